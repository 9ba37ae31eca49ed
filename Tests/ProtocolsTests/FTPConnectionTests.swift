import Auth
import Foundation
import Logging
@testable import Protocols
import Storage
import Testing

/// Drives one FTPConnection over a loopback socket pair: the server side runs on its own thread like
/// in production, the test speaks the protocol line by line.
final class FTPTestClient {
    let socket: Socket
    let driver: InMemoryDriver
    private var buffer: [UInt8] = []
    let serverThread: Thread

    init(authority: Authority = .readWrite, mayDelete: Bool = true, activeMode: Bool = true) throws {
        let driver = InMemoryDriver(buckets: ["home"])
        let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!)
        let address = listener.localAddress!
        let client = try Socket.connect(to: address, timeout: 5)
        let server = try #require(try listener.accept(timeout: 5))
        let user = User(name: "u", passwordHash: PasswordHash(plain: "pw"), sshKeys: [],
                        home: StorageBinding(storage: "mem", bucket: "home", prefix: ""),
                        authority: authority, mayDelete: mayDelete, folders: [])
        let users = UserDirectory(users: [user], defender: LoginDefender(maxFailures: 100, banTime: 60), failureDelay: 0)
        let settings = FTPSettings(passivePorts: nil, masqueradeAddress: nil, activeModeEnabled: activeMode,
                                   idleTimeout: 30, dataTimeout: 5)
        let context = FTPServerContext(settings: settings, users: users, storages: StorageRegistry(["mem": driver]),
                                       observer: nil, logger: Logger(label: "test"))
        let peer = try #require(server.remoteAddress)
        let connection = try #require(FTPConnection(socket: server, client: peer, context: context))
        nonisolated(unsafe) let unsafeConnection = connection
        serverThread = Thread { unsafeConnection.run() }
        serverThread.start()
        self.socket = client
        self.driver = driver
    }

    /// Reads one complete reply (multi-line aware); returns (code, all text).
    func readReply() throws -> (Int, String) {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            if lines.count == 1 && line.count >= 4 && Array(line)[3] == "-" { continue }
            if lines.count > 1, let first = lines.first, line.hasPrefix(String(first.prefix(3)) + " ") { break }
            if lines.count == 1 { break }
        }
        return (Int(lines[0].prefix(3)) ?? 0, lines.joined(separator: "\n"))
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<index], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\r"))
                buffer.removeSubrange(...index)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = try chunk.withUnsafeMutableBytes { raw throws(SocketError) in try socket.read(into: raw, timeout: 10) }
            if count == 0 { throw SocketError.closed }
            buffer += chunk[0..<count]
        }
    }

    func send(_ raw: [UInt8]) throws { try socket.writeAll(raw, timeout: 5) }

    @discardableResult
    func command(_ line: String) throws -> (Int, String) {
        try send(Array((line + "\r\n").utf8))
        return try readReply()
    }

    func login() throws {
        #expect(try readReply().0 == 220)
        #expect(try command("USER u").0 == 331)
        #expect(try command("PASS pw").0 == 230)
    }

    /// Opens a passive data connection (EPSV) and runs `command` over it; returns the data received.
    func transfer(_ line: String, upload: [UInt8]? = nil) throws -> (data: [UInt8], final: Int) {
        let (code, text) = try command("EPSV")
        #expect(code == 229)
        let port = UInt16(text.split(separator: "|")[1])!
        let data = try Socket.connect(to: SocketAddress(host: "127.0.0.1", port: port)!, timeout: 5)
        try send(Array((line + "\r\n").utf8))
        let (preliminary, _) = try readReply()
        guard preliminary == 150 else { return ([], preliminary) }
        var received: [UInt8] = []
        if let upload {
            try data.writeAll(upload, timeout: 5)
            data.close()
        } else {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = try chunk.withUnsafeMutableBytes { raw throws(SocketError) in try data.read(into: raw, timeout: 10) }
                if count == 0 { break }
                received += chunk[0..<count]
            }
            data.close()
        }
        return (received, try readReply().0)
    }

    deinit { socket.close() }
}

@Suite struct FTPConnectionTests {
    @Test func refusesCommandsBeforeLogin() throws {
        let client = try FTPTestClient()
        #expect(try client.readReply().0 == 220)
        #expect(try client.command("PWD").0 == 530)
        #expect(try client.command("RETR x").0 == 530)
        #expect(try client.command("FEAT").0 == 211)
        #expect(try client.command("SYST").0 == 215)
        #expect(try client.command("PASS early").0 == 503)
        #expect(try client.command("USER u").0 == 331)
        #expect(try client.command("PASS wrong").0 == 530)
        #expect(try client.command("PWD").0 == 530)
    }

    @Test func survivesLongLinesAndBadEncoding() throws {
        let client = try FTPTestClient()
        try client.login()
        try client.send(Array(("NOOP " + String(repeating: "x", count: 9000) + "\r\n").utf8))
        #expect(try client.readReply().0 == 500)
        #expect(try client.command("NOOP").0 == 200)
        try client.send([0x4D, 0x4B, 0x44, 0x20, 0xC3, 0x28, 0x0D, 0x0A])  // "MKD " + invalid UTF-8
        #expect(try client.readReply().0 == 500)
        #expect(try client.command("FOO").0 == 500)
        #expect(try client.command("MKD").0 == 501)
        // Telnet IAC IP IAC DM before a command is ignored (RFC 959 ABOR sequence).
        try client.send([0xFF, 0xF4, 0xFF, 0xF2] + Array("NOOP\r\n".utf8))
        #expect(try client.readReply().0 == 200)
    }

    @Test func navigationAndDirectories() throws {
        let client = try FTPTestClient()
        try client.login()
        #expect(try client.command("PWD") == (257, "257 \"/\" is the current directory"))
        #expect(try client.command("MKD a \"quoted\" dir") == (257, "257 \"/a \"\"quoted\"\" dir\" created"))
        #expect(try client.command("CWD a \"quoted\" dir").0 == 250)
        #expect(try client.command("XPWD").1.contains("\"/a \"\"quoted\"\" dir\""))
        #expect(try client.command("CDUP").0 == 250)
        #expect(try client.command("CWD ../../..").0 == 250)
        #expect(try client.command("PWD").1.contains("\"/\""))
        #expect(try client.command("CWD nowhere").0 == 550)
        #expect(try client.command("RMD a \"quoted\" dir").0 == 250)
        #expect(try client.command("RNTO x").0 == 503)
    }

    /// RNTO only right after a successful RNFR; FEAT from the table (no TLS here: no AUTH, PBSZ,
    /// PROT); SIZE of a directory and MLSD of a file answered through the error mapping.
    @Test func commandOrderFeaturesAndMappedReplies() throws {
        let client = try FTPTestClient()
        try client.login()
        #expect(try client.transfer("STOR f.txt", upload: Array("f".utf8)).final == 226)
        #expect(try client.command("MKD d").0 == 257)
        #expect(try client.command("RNFR f.txt").0 == 350)
        #expect(try client.command("NOOP").0 == 200)
        #expect(try client.command("RNTO g.txt").0 == 503)
        #expect(try client.command("RNFR f.txt").0 == 350)
        try client.send(Array(("NOOP " + String(repeating: "x", count: 9000) + "\r\n").utf8))
        #expect(try client.readReply().0 == 500)
        #expect(try client.command("RNTO g.txt").0 == 503)
        #expect(try client.command("RNFR missing.txt").0 == 550)
        #expect(try client.command("RNTO g.txt").0 == 503)
        #expect(try client.command("RNFR f.txt").0 == 350)
        #expect(try client.command("RNFR").0 == 501)  // refused before its handler: breaks the pair
        #expect(try client.command("RNTO g.txt").0 == 503)
        #expect(try client.command("RNFR f.txt").0 == 350)
        #expect(try client.command("RNTO g.txt").0 == 250)
        let feat = try client.command("FEAT")
        let lines = feat.1.split(separator: "\n").dropFirst().dropLast().map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(feat.0 == 211)
        #expect(lines == ["EPRT", "EPSV", "HASH SHA-256*;SHA-1;MD5;CRC32", "MDTM", "MFMT", "MLST type*;size*;modify*;perm*;", "PASV",
                          "REST STREAM", "SIZE", "TVFS", "UTF8", "XCRC", "XMD5", "XSHA1", "XSHA256"])
        // OPTS HASH chooses the algorithm FEAT stars and HASH uses.
        #expect(try client.command("OPTS HASH md5") == (200, "200 MD5"))
        #expect(try client.command("FEAT").1.contains("HASH SHA-256;SHA-1;MD5*;CRC32"))
        #expect(try client.command("OPTS HASH") == (200, "200 MD5"))
        #expect(try client.command("OPTS HASH WHIRLPOOL").0 == 501)
        #expect(try client.command("HASH g.txt").0 == 213)
        #expect(try client.command("HASH d").0 == 550)
        // SITE CHMOD: acknowledged without effect (lftp mirror -R, FileZilla); other SITE commands 504.
        #expect(try client.command("SITE CHMOD 644 g.txt").0 == 200)
        #expect(try client.command("SITE CHMOD 9x g.txt").0 == 501)
        // Modification times: MFMT and SITE UTIME (both forms) set them; MDTM shows them.
        #expect(try client.command("SITE UTIME 20260101000000 g.txt").0 == 200)
        #expect(try client.command("MDTM g.txt") == (213, "213 20260101000000"))
        #expect(try client.command("SITE UTIME g.txt 20250101000000 20250202030405 20250101000000 UTC").0 == 200)
        #expect(try client.command("MDTM g.txt") == (213, "213 20250202030405"))
        #expect(try client.command("MFMT 20201231235958 g.txt") == (213, "213 Modify=20201231235958; g.txt"))
        #expect(try client.command("MDTM g.txt") == (213, "213 20201231235958"))
        #expect(try client.command("MFMT 2020123123595 g.txt").0 == 501)
        #expect(try client.command("MFMT 20201331235958 g.txt").0 == 501)
        #expect(try client.command("MFMT 20210231000000 g.txt").0 == 501)  // February 31st does not exist
        #expect(try client.command("MFMT 19600101000000 g.txt").0 == 501)  // before the epoch
        #expect(try client.command("MFMT 99991231235959 g.txt") == (213, "213 Modify=99991231235959; g.txt"))  // no trap
        #expect(try client.command("SITE UTIME 99991231235959 g.txt").0 == 200)
        #expect(try client.command("MFMT 20201231235958 d") == (213, "213 Modify=20201231235958; d"))  // a directory's time, on its marker
        #expect(try client.command("MLST d").1.contains("modify=20201231235958;"))
        #expect(try client.command("MFMT 20201231235958 missing.txt").0 == 550)
        #expect(try client.command("SITE UTIME soon g.txt").0 == 501)
        #expect(try client.command("SITE WHO").0 == 504)
        #expect(try client.command("SITE HELP").0 == 214)
        #expect(try client.command("SIZE d") == (550, "550 Is a directory."))
        #expect(try client.transfer("MLSD g.txt").final == 501)
    }

    @Test func transfersListingsAndMetadata() throws {
        let client = try FTPTestClient()
        try client.login()
        let payload = Array("line one\nline two\n".utf8)
        #expect(try client.transfer("STOR notes.txt", upload: payload).final == 226)
        #expect(try client.command("SIZE notes.txt") == (213, "213 \(payload.count)"))
        #expect(try client.command("MDTM notes.txt").1.count == "213 YYYYMMDDHHMMSS".count)
        #expect(try client.transfer("RETR notes.txt").data == payload)
        #expect(try client.command("TYPE A").0 == 200)
        #expect(String(decoding: try client.transfer("RETR notes.txt").data, as: UTF8.self) == "line one\r\nline two\r\n")
        #expect(try client.command("TYPE I").0 == 200)
        #expect(try client.command("REST 5").0 == 350)
        #expect(String(decoding: try client.transfer("RETR notes.txt").data, as: UTF8.self) == "one\nline two\n")
        #expect(try client.transfer("APPE notes.txt", upload: Array("three\n".utf8)).final == 226)
        #expect(String(decoding: try client.transfer("RETR notes.txt").data, as: UTF8.self) == "line one\nline two\nthree\n")
        let mlsd = String(decoding: try client.transfer("MLSD").data, as: UTF8.self)
        #expect(mlsd.contains("type=file;size=24;"))
        #expect(mlsd.hasSuffix(" notes.txt\r\n"))
        let nlst = String(decoding: try client.transfer("NLST").data, as: UTF8.self)
        #expect(nlst == "notes.txt\r\n")
        let mlst = try client.command("MLST notes.txt")
        #expect(mlst.0 == 250 && mlst.1.contains("type=file;size=24;") && mlst.1.contains(" /notes.txt"))
        #expect(try client.command("RNFR notes.txt").0 == 350)
        #expect(try client.command("RNTO renamed.txt").0 == 250)
        #expect(try client.transfer("RETR notes.txt").final == 550)
        #expect(try client.command("DELE renamed.txt").0 == 250)
        #expect(try client.command("SIZE renamed.txt").0 == 550)
    }

    @Test func informationalCommandsAndSecurityCommandsWithoutTLS() throws {
        let client = try FTPTestClient()
        #expect(try client.readReply().0 == 220)
        #expect(try client.command("AUTH TLS").0 == 502)   // tls = off
        #expect(try client.command("PBSZ 0").0 == 503)     // needs AUTH TLS first
        #expect(try client.command("PROT P").0 == 503)
        #expect(try client.command("USER u").0 == 331)
        #expect(try client.command("PASS pw").0 == 230)
        #expect(try client.command("CCC").0 == 534)
        #expect(try client.command("ALLO 1000").0 == 202)
        #expect(try client.command("MODE S").0 == 200)
        #expect(try client.command("MODE B").0 == 504)
        #expect(try client.command("STRU F").0 == 200)
        #expect(try client.command("STRU R").0 == 504)
        #expect(try client.command("TYPE E").0 == 504)
        let help = try client.command("HELP")
        #expect(help.0 == 214 && help.1.contains("MLSD"))
        let status = try client.command("STAT")
        #expect(status.0 == 211 && status.1.contains("Logged in as u"))
        #expect(try client.command("OPTS MLST size;type;") == (200, "200 MLST OPTS type;size;"))
        #expect(try client.command("ABOR").0 == 225)
        #expect(try client.command("QUIT").0 == 221)
    }

    @Test func refusesFTPBounce() throws {
        let client = try FTPTestClient()
        try client.login()
        #expect(try client.command("PORT 10,1,2,3,4,1").0 == 504)
        #expect(try client.command("PORT 127,0,0,1,0,21").0 == 504)   // privileged port
        #expect(try client.command("PORT 127,0,0,1,300,1").0 == 501)
        #expect(try client.command("EPRT |1|192.0.2.1|5000|").0 == 504)
        #expect(try client.command("EPRT |3|x|5000|").0 == 522)
        #expect(try client.command("PORT 127,0,0,1,200,10").0 == 200)
        #expect(try client.command("EPSV ALL").0 == 200)
        #expect(try client.command("PASV").0 == 503)
        #expect(try client.command("PORT 127,0,0,1,200,10").0 == 503)
    }

    @Test func activeModeCanBeDisabled() throws {
        let client = try FTPTestClient(activeMode: false)
        try client.login()
        #expect(try client.command("PORT 127,0,0,1,200,10").0 == 502)
    }

    @Test func readOnlyUsersCannotWrite() throws {
        let client = try FTPTestClient(authority: .readOnly)
        try client.login()
        #expect(try client.transfer("STOR x", upload: [1]).final == 550)
        #expect(try client.command("MKD d").0 == 550)
        #expect(try client.driver.metadata(ObjectKey(bucket: "home", key: "x")) == nil)
    }
}
