import Foundation
@testable import Gateway
import Auth
import Protocols
import Testing

@Suite struct ConfigValueTests {
    @Test func sizes() {
        #expect(ConfigValues.size("16MiB") == 16 << 20)
        #expect(ConfigValues.size("5GiB") == 5 << 30)
        #expect(ConfigValues.size("200GB") == 200_000_000_000)
        #expect(ConfigValues.size("1024") == 1024)
        #expect(ConfigValues.size("1.5KiB") == 1536)
        #expect(ConfigValues.size("16XB") == nil)
        #expect(ConfigValues.size("") == nil)
        #expect(ConfigValues.size("-5MiB") == nil)
    }

    @Test func durations() {
        #expect(ConfigValues.duration("5m") == 300)
        #expect(ConfigValues.duration("15m") == 900)
        #expect(ConfigValues.duration("1h30m") == 5400)
        #expect(ConfigValues.duration("500ms") == 0.5)
        #expect(ConfigValues.duration("30s") == 30)
        #expect(ConfigValues.duration("5") == nil)
        #expect(ConfigValues.duration("5 minutes") == nil)
    }

    @Test func addressesAndRanges() {
        #expect(ConfigValues.listenAddress("0.0.0.0:2121")??.port == 2121)
        #expect(ConfigValues.listenAddress("[::]:2222")??.family == .ipv6)
        #expect(ConfigValues.listenAddress("localhost:21")??.host == "127.0.0.1")
        #expect(ConfigValues.listenAddress("")! == nil)
        #expect(ConfigValues.listenAddress("example.com:21") == nil)
        #expect(ConfigValues.listenAddress("1.2.3.4:70000") == nil)
        #expect(ConfigValues.listenAddress("1.2.3.4") == nil)
        #expect(ConfigValues.portRange("60000-60100") == 60000...60100)
        #expect(ConfigValues.portRange("60100-60000") == nil)
        #expect(ConfigValues.portRange("0-10") == nil)
        #expect(ConfigValues.portRange("5") == 5...5)
    }

    @Test func bucketNames() {
        #expect(ConfigValues.isValidBucketName("team-bucket-1250000000"))
        #expect(!ConfigValues.isValidBucketName("ab"))
        #expect(!ConfigValues.isValidBucketName("UPPER"))
        #expect(!ConfigValues.isValidBucketName(".ferry-uploads"))
        #expect(!ConfigValues.isValidBucketName("a..b"))
    }
}

@Suite struct ConfigLoaderTests {
    static let ftp = """
    [ftp]
    listen = "127.0.0.1:2121"

    """

    static let base = ftp + storage

    static let storage = """
    [[storage]]
    name = "local"
    driver = "local"
    root = "data"

    """

    static func user(_ extra: String = "") -> String {
        """

        [[user]]
        name = "alice"
        password = "secret-plain"
        home = "local:files/alice"
        authority = "RW"
        \(extra)
        """
    }

    static func load(_ text: String, environment: [String: String] = [:]) throws(ConfigLoader.LoadError) -> FerryConfig {
        try ConfigLoader(environment: environment, checkFiles: true).load(text: text)
    }

    /// The messages of a configuration that must fail.
    static func issues(_ text: String, environment: [String: String] = [:]) -> [String] {
        do throws(ConfigLoader.LoadError) {
            _ = try ConfigLoader(environment: environment, checkFiles: true).load(text: text)
            return []
        } catch .invalid(let issues) {
            return issues.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func acceptsAMinimalConfigurationWithDefaults() throws {
        let config = try Self.load(Self.base + Self.user())
        #expect(config.ftp?.listen?.port == 2121)
        #expect(config.ftp?.activeMode == true)
        #expect(config.ftp?.tls == .off)
        #expect(config.limits.maxConnections == 512)
        #expect(config.limits.idleTimeout == 300)
        #expect(config.limits.banTime == 900)
        #expect(config.limits.transferMemory == 768 * 1024 * 1024)
        #expect(config.users.first?.mayDelete == true)
        #expect(config.users.first?.home.prefix == "alice/")
        #expect(config.warnings.count == 1)  // the plain password
    }

    @Test(arguments: [
        ("[ftp]\nlistne = \"x\"", "ftp.listne: unknown key"),
        ("[ftp]\nlisten = 2121", "ftp.listen: expected a string, found the integer 2121"),
        ("[ftp]\nlisten = \"nowhere\"", "ftp.listen: expected \"host:port\""),
        ("[ftp]\npassive_ports = \"60100-60000\"", "ftp.passive_ports: expected \"LOW-HIGH\""),
        ("[ftp]\ntls = \"maybe\"", "ftp.tls: expected one of off | optional | required"),
        ("[ftp]\ntls = \"required\"", "ftp.tls: \"required\" needs a [tls] section"),
        ("[ftp]\nactive_mode = \"yes\"", "ftp.active_mode: expected true or false"),
        ("[limits]\nidle_timeout = \"5 minutes\"", "limits.idle_timeout: expected a duration"),
        ("[limits]\ntransfer_memory = \"1MiB\"", "limits.transfer_memory: expected a size from 16MiB to 1TiB"),
        ("[limits]\ntransfer_memory = \"lots\"", "limits.transfer_memory: expected a size"),
        ("[limits]\nidle_timeout = \"100000000000d\"", "limits.idle_timeout: expected a duration of at most 365 days"),
        ("[limits]\nlogin_timeout = \"0s\"", "limits.login_timeout: expected a duration"),
        ("[limits]\nmax_connections = 0", "limits.max_connections: expected an integer from 1"),
        ("[log]\nlevel = \"loud\"", "log.level: expected one of"),
        ("[metrics]\nlisten = \"1.2.3.4:99999\"", "metrics.listen: expected \"host:port\""),
        ("[tls]\ncertificate = \"/nonexistent/cert.pem\"\nprivate_key = \"/nonexistent/key.pem\"", "tls.certificate: cannot read the file"),
        ("[sftp]\nlisten = \"127.0.0.1:2222\"", "sftp.host_keys: at least one host key"),
        ("[sftp]\nlisten = \"\"\nciphers = [\"aes128-gcm@openssh.com\", \"rc4\"]", "sftp.ciphers: not a cipher Ferry offers (unknown to this SSH library, or weak: CBC, 3DES): rc4"),
        ("[sftp]\nlisten = \"\"\nciphers = [\"aes128-cbc\", \"3des-cbc\"]", "sftp.ciphers: not a cipher Ferry offers (unknown to this SSH library, or weak: CBC, 3DES): aes128-cbc, 3des-cbc"),
        ("[sftp]\nlisten = \"\"\nciphers = []", "sftp.ciphers: name at least one cipher"),
        ("bogus = 1", "bogus: unknown key"),
        ("[ftp]\nmasquerade_address = \"::1\"", "ftp.masquerade_address: expected an IPv4 address or host name"),
        ("[ftp]\nmasquerade_address = \"no-such-host.invalid\"", "ftp.masquerade_address: the host name \"no-such-host.invalid\" has no IPv4 address"),
        ("[ftp]\npassive_address_overrides = [{ address = \"10.1.2.3\" }]", "ftp.passive_address_overrides[1].networks: missing"),
        ("[ftp]\npassive_address_overrides = [{ networks = [], address = \"10.1.2.3\" }]", "ftp.passive_address_overrides[1].networks: expected at least one network"),
        ("[ftp]\npassive_address_overrides = [{ networks = [\"10.0.0.0/8\"] }]", "ftp.passive_address_overrides[1].address: missing"),
        ("[ftp]\npassive_address_overrides = [{ networks = [\"10.1.0.0/8\"], address = \"10.1.2.3\" }]", "ftp.passive_address_overrides[1].networks[1]: expected a network"),
        ("[ftp]\npassive_address_overrides = [{ networks = [\"10.0.0.0/8\"], address = \"10.1.2.3\", port = 1 }]", "ftp.passive_address_overrides[1].port: unknown key"),
        ("[proxy_protocol]\nfrom = [\"127.0.0.1/33\"]", "proxy_protocol.from[1]: expected a network"),
        ("[proxy_protocol]\nheader_timeout = \"0s\"", "proxy_protocol.header_timeout: expected a duration"),
        ("[proxy_protocol]\nform = []", "proxy_protocol.form: unknown key"),
        ("[[storage]]\nname = \"s3\"\ndriver = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\naccess_key = \"env:FERRY_TEST_UNSET_VAR\"\nsecret_key = \"x\"",
         "storage[1].access_key: the environment variable FERRY_TEST_UNSET_VAR is not set"),
        ("[[storage]]\nname = \"s3\"\ndriver = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\naccess_key = \"a\"\nsecret_key = \"b\"\npart_size = \"16XB\"",
         "storage[1].part_size: expected a size"),
        ("[[storage]]\nname = \"s3\"\ndriver = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\naccess_key = \"a\"\nsecret_key = \"b\"\npart_size = \"1MiB\"",
         "storage[1].part_size: expected a size from 5MiB to 5GiB"),
        ("[[storage]]\nname = \"s3\"\ndriver = \"s3\"\nendpoint = \"ftp://x\"\naccess_key = \"a\"\nsecret_key = \"b\"",
         "storage[1].endpoint: expected an http:// or https:// URL"),
        ("[[storage]]\nname = \"l2\"\ndriver = \"local\"\nroot = \"x\"\nendpoint = \"http://x\"", "storage[1].endpoint: unknown key for a local storage"),
        ("[[storage]]\nname = \"local\"\ndriver = \"local\"\nroot = \"x\"", "storage[2].name: duplicate storage name"),
        ("[[storage]]\nname = \"x\"\ndriver = \"ftp\"", "storage[1].driver: expected \"s3\" or \"local\""),
    ])
    func reportsEachMistakeWithItsKeyPath(snippet: String, expected: String) {
        // The snippet comes first (top-level keys must precede tables); it may bring its own [ftp].
        let rest = snippet.hasPrefix("[ftp]") ? Self.storage : Self.base
        let messages = Self.issues(snippet + "\n" + rest + Self.user())
        #expect(messages.contains { $0.hasPrefix(expected) }, "got \(messages)")
    }

    @Test func balancerSettings() throws {
        let text = """
        [ftp]
        masquerade_address = "localhost"
        passive_address_overrides = [{ networks = ["10.0.0.0/8", "fd00::/8"], address = "10.1.2.3" }, { networks = ["192.0.2.0/24"], address = "localhost" }]
        [proxy_protocol]
        from = ["127.0.0.1/32", "10.0.0.0/8"]
        header_timeout = "2s"
        """
        let config = try Self.load(text + "\n" + Self.storage + Self.user())
        let ftp = try #require(config.ftp)
        #expect(ftp.masqueradeAddress?.host == "127.0.0.1")
        #expect(ftp.passiveAddressOverrides.map(\.address.host) == ["10.1.2.3", "127.0.0.1"])
        #expect(config.proxyProtocol.ftp.trustedSources.map(\.description) == ["127.0.0.1/32", "10.0.0.0/8"])
        #expect(config.proxyProtocol.sftp.trustedSources.map(\.description) == ["127.0.0.1/32", "10.0.0.0/8"])
        #expect(config.proxyProtocol.ftp.headerTimeout == 2 && config.proxyProtocol.sftp.headerTimeout == 2)
        // One group set apart: SFTP straight from the internet, FTP behind the balancer.
        let split = try Self.load("[proxy_protocol]\nfrom = [\"10.0.0.0/8\"]\nsftp_from = []\n" + Self.base + Self.user())
        #expect(split.proxyProtocol.ftp.trustedSources.count == 1 && split.proxyProtocol.sftp.trustedSources.isEmpty)
        var settings = FTPSettings(passivePorts: nil, masqueradeAddress: ftp.masqueradeAddress, activeModeEnabled: false, idleTimeout: 1)
        settings.passiveAddressOverrides = ftp.passiveAddressOverrides
        let local = SocketAddress(host: "127.0.0.11", port: 2121)!
        #expect(settings.announcedPassiveAddress(client: SocketAddress(host: "10.9.8.7", port: 1)!, local: local).host == "10.1.2.3")
        #expect(settings.announcedPassiveAddress(client: SocketAddress(host: "192.0.2.5", port: 1)!, local: local).host == "127.0.0.1")
        #expect(settings.announcedPassiveAddress(client: SocketAddress(host: "203.0.113.1", port: 1)!, local: local).host == "127.0.0.1")
        settings.masqueradeAddress = nil
        #expect(settings.announcedPassiveAddress(client: SocketAddress(host: "203.0.113.1", port: 1)!, local: local).host == "127.0.0.11")
        let printed = ConfigPrinter.render(config)
        #expect(printed.contains("masquerade_address = \"localhost\""))
        #expect(printed.contains("ftp_from = [\"127.0.0.1/32\", \"10.0.0.0/8\"]"))
    }

    @Test func sftpCipherListIsKeptInOrder() throws {
        let config = try Self.load("[sftp]\nlisten = \"\"\nciphers = [\"aes256-gcm@openssh.com\", \"aes128-ctr\"]\n" + Self.base + Self.user())
        #expect(config.sftp?.ciphers == ["aes256-gcm@openssh.com", "aes128-ctr"])
        #expect(ConfigPrinter.render(config).contains("ciphers = [\"aes256-gcm@openssh.com\", \"aes128-ctr\"]"))
    }

    @Test func userMistakes() {
        let cases: [(String, String)] = [
            (Self.user() + Self.user(), "user[2].name: duplicate user name \"alice\""),
            (Self.user().replacingOccurrences(of: "local:files/alice", with: "nas:files"), "user[1].home: unknown storage \"nas\""),
            (Self.user().replacingOccurrences(of: "local:files/alice", with: "local:UP"), "user[1].home: \"UP\" is not a valid bucket name"),
            (Self.user().replacingOccurrences(of: "authority = \"RW\"", with: "authority = \"RX\""), "user[1].authority: expected one of RO, WO, RW"),
            (Self.user("password_hash = \"$1$abc$defghijklmnopqrstuvwxy\""), "user[1].password"),
            (Self.user("ssh_keys = [\"ssh-ed25519 notbase64!!\"]"), "user[1].ssh_keys[1]: the key data is not valid base64"),
            (Self.user("max_sessions = -1"), "user[1].max_sessions: expected an integer from 0"),
            (Self.user("\n[[user.folder]]\npath = \"/shared\"\ntarget = \"local:shared\"\nauthority = \"RX\""), "user[1].folder[1].authority: expected one of RO, WO, RW"),
            (Self.user("\n[[user.folder]]\npath = \"/shared\"\ntarget = \"local:shared\"\n[[user.folder]]\npath = \"/shared/deeper\"\ntarget = \"local:other\""),
             "user[1].folder[2].path: /shared/deeper overlaps /shared of user[1].folder[1]"),
            (Self.user("\n[[user.folder]]\npath = \"relative\"\ntarget = \"local:shared\""), "user[1].folder[1].path: expected an absolute path"),
            (Self.user("\n[[user.folder]]\npath = \"/x\"\ntarget = \"nope:shared\""), "user[1].folder[1].target: unknown storage \"nope\""),
            ("\n[[user]]\nname = \"bob\"\nhome = \"local:files\"", "user[1]: has no password_hash, password or ssh_keys"),
            ("", "user: no [[user]] and no [auth] http is configured"),
        ]
        for (users, expected) in cases {
            let messages = Self.issues(Self.base + users)
            #expect(messages.contains { $0.hasPrefix(expected) }, "expected \(expected), got \(messages)")
        }
    }

    @Test func collectsEveryMistakeAtOnce() {
        let messages = Self.issues("[ftp]\nlistne = 1\n[limits]\nban_time = \"soon\"\n" + Self.user())
        #expect(messages.count >= 3)
    }

    @Test func syntaxErrorsNameTheLine() {
        let messages = Self.issues("[ftp\nlisten = 1")
        #expect(messages.first?.contains("line 1") == true)
    }

    /// Headers the TOML library would abort on are refused with a line number (found by fuzzing);
    /// brackets inside values, strings and comments are not headers.
    @Test func unsafeTableHeadersAreRefusedNotFatal() {
        for (text, line) in [("[ = 1", 1), ("a = 1\n[]\n", 2), ("[[[storage]]]\n", 1), ("x = \"[\"\n  [ = 2", 2)] {
            #expect(TOMLPreflight.firstProblem(text)?.line == line, "\(text.debugDescription)")
            #expect(Self.issues(text).first?.contains("line \(line): a table header") == true)
        }
        // `}` where an array element should start made toml++ abort (config fuzz target, this session).
        for (text, line) in [("\n[sftp]\nlisten = \"\"\nciphers = [}\n", 4), ("a = [1, }", 1), ("a = [\n  # c\n  }", 3),
                             ("a = [ [1], [ }", 1), ("a = [{ b = [1, }]", 1)] {
            #expect(TOMLPreflight.firstProblem(text)?.problem == .closingBraceInArray, "\(text.debugDescription)")
            #expect(Self.issues(text).first?.contains("line \(line): '}' where an array element") == true, "\(Self.issues(text))")
        }
        let fine = "[sftp]\nciphers = [\n  [],\n  [ \"x\" ],\n  \"]\\\"[\",\n]\n# [ = comment\nkey = \"\"\"\n[ =\n\"\"\"\n[[user]]\n[ \"quoted\" ]\n"
            + "t = { a = [1, 2], b = { c = [] } }\nu = [ \"}\", '}', { x = 1 }, ]\n"
        #expect(TOMLPreflight.firstProblem(fine) == nil)
    }

    @Test func secretsComeFromTheEnvironmentAndAreMasked() throws {
        let text = Self.base + """
        [[storage]]
        name = "cos"
        driver = "s3"
        endpoint = "https://cos.ap-guangzhou.myqcloud.com"
        access_key = "env:COS_ID"
        secret_key = "env:COS_KEY"

        """ + Self.user()
        let config = try Self.load(text, environment: ["COS_ID": "AKIDEXAMPLE", "COS_KEY": "topsecretvalue"])
        guard case .s3(let s3) = config.storages[1].driver else {
            Issue.record("expected an s3 storage")
            return
        }
        #expect(s3.secretKey?.value == "topsecretvalue")
        #expect(s3.addressing == .virtualHosted)
        #expect(s3.partSize == 16 << 20)
        let printed = ConfigPrinter.render(config)
        #expect(!printed.contains("topsecretvalue"))
        #expect(!printed.contains("AKIDEXAMPLE"))
        #expect(!printed.contains("secret-plain"))
        #expect(printed.contains("env:COS_KEY"))
        // The printed form is itself a valid configuration apart from the masked values.
        #expect(printed.contains("[[user]]"))
    }

    @Test func plainHTTPToARemoteEndpointIsWarnedAbout() throws {
        let remote = Self.base + "[[storage]]\nname = \"minio\"\ndriver = \"s3\"\nendpoint = \"http://minio.lan:9000\"\naccess_key = \"a\"\nsecret_key = \"b\"\n" + Self.user()
        #expect(try Self.load(remote).warnings.contains { $0.hasPrefix("storage[2].endpoint: plain http to minio.lan") })
        let loopback = remote.replacingOccurrences(of: "minio.lan", with: "127.0.0.1")
        #expect(try !Self.load(loopback).warnings.contains { $0.contains("plain http") })
    }

    @Test func awsVariablesAreTheFallback() throws {
        let text = Self.base + "[[storage]]\nname = \"aws\"\ndriver = \"s3\"\nendpoint = \"http://127.0.0.1:18333\"\n" + Self.user()
        let config = try Self.load(text, environment: ["AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"])
        guard case .s3(let s3) = config.storages[1].driver else { return }
        #expect(s3.accessKey?.value == "id")
        #expect(s3.addressing == .path)  // an IP endpoint
        #expect(Self.issues(text).contains { $0.hasPrefix("storage[2].access_key: missing") })
    }

    @Test func conditionalWritesAreOnUnlessTurnedOff() throws {
        let storage = "[[storage]]\nname = \"s3\"\ndriver = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\naccess_key = \"a\"\nsecret_key = \"b\"\n"
        for (line, expected) in [("", true), ("conditional_writes = false\n", false), ("conditional_writes = true\n", true)] {
            let config = try Self.load(Self.base + storage + line + Self.user())
            guard case .s3(let s3) = config.storages[1].driver else {
                Issue.record("not an S3 storage")
                return
            }
            #expect(s3.conditionalWrites == expected, "\(line)")
        }
        #expect(Self.issues(Self.base + storage + "conditional_writes = \"no\"\n" + Self.user())
            .contains { $0.hasPrefix("storage[2].conditional_writes") })
    }
}

@Suite struct TLSConfigTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "ferry-tls-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func config(certificate: String, key: String, extra: String = "") -> String {
        "[ftp]\nlisten = \"127.0.0.1:2121\"\ntls = \"required\"\n\(extra)\n[tls]\ncertificate = \"\(certificate)\"\nprivate_key = \"\(key)\"\n"
            + ConfigLoaderTests.storage + ConfigLoaderTests.user()
    }

    @Test func aGeneratedPairLoadsAndAMismatchedKeyIsAnError() throws {
        let directory = Self.temporaryDirectory()
        try TLSContext.generateSelfSigned(certificate: directory + "/a.crt", privateKey: directory + "/a.key")
        try TLSContext.generateSelfSigned(certificate: directory + "/b.crt", privateKey: directory + "/b.key")
        let good = try ConfigLoader(environment: [:]).load(text: Self.config(certificate: directory + "/a.crt", key: directory + "/a.key",
                                                                              extra: "implicit_tls_listen = \"127.0.0.1:990\""))
        #expect(good.ftp?.tls == .required)
        #expect(good.ftp?.implicitTLSListen?.port == 990)
        let keyMode = try FileManager.default.attributesOfItem(atPath: directory + "/a.key")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let mismatched = ConfigLoaderTests.issues(Self.config(certificate: directory + "/a.crt", key: directory + "/b.key"))
        #expect(mismatched.contains { $0.hasPrefix("tls.private_key:") && $0.contains("does not match") }, "got \(mismatched)")
        try "not a certificate".write(toFile: directory + "/garbage.crt", atomically: true, encoding: .utf8)
        let garbage = ConfigLoaderTests.issues(Self.config(certificate: directory + "/garbage.crt", key: directory + "/a.key"))
        #expect(garbage.contains { $0.hasPrefix("tls.certificate: cannot load the certificate chain") }, "got \(garbage)")
        let missing = ConfigLoaderTests.issues(Self.config(certificate: directory + "/a.crt", key: directory + "/none.key"))
        #expect(missing.contains { $0.hasPrefix("tls.private_key: cannot read the file") }, "got \(missing)")
        let badCiphers = ConfigLoaderTests.issues(Self.config(certificate: directory + "/a.crt", key: directory + "/a.key")
            .replacingOccurrences(of: "[tls]\n", with: "[tls]\nciphers = \"NOT-A-CIPHER\"\n"))
        #expect(badCiphers.contains { $0.contains("invalid cipher list") }, "got \(badCiphers)")
        #expect(ConfigLoaderTests.issues("[ftp]\nimplicit_tls_listen = \"127.0.0.1:990\"\n" + ConfigLoaderTests.storage + ConfigLoaderTests.user())
            .contains { $0.hasPrefix("ftp.implicit_tls_listen: needs a [tls] section") })
    }
}

@Suite struct TransferLogTests {
    @Test func xferlogLine() {
        let record = TransferRecord(service: .ftp, user: "alice", remoteHost: "127.0.0.1", path: "/dir/my file.txt",
                                    direction: .upload, bytes: 1234, started: Date(timeIntervalSince1970: 0),
                                    duration: 2.4, outcome: .complete, binary: true)
        #expect(GatewayObserver.xferlogLine(record) == "Thu Jan  1 00:00:00 1970 2 127.0.0.1 1234 /dir/my_file.txt b _ i r alice ftp 0 * c\n")
    }
}

@Suite struct AbandonedUploadReaperTests {
    static func user(_ name: String, home: String, folders: [String] = []) -> User {
        User(name: name, passwordHash: nil, sshKeys: [], home: StorageBinding(parsing: home)!, authority: .readWrite,
             mayDelete: true, folders: folders.enumerated().map { index, target in
                 FolderBinding(path: "/f\(index)", target: StorageBinding(parsing: target)!, authority: .readOnly, mayDelete: false)
             })
    }

    @Test func scopesAreTheUsersBindingsWithoutOverlap() {
        let users = [
            Self.user("a", home: "s3:team/alice", folders: ["s3:shared/", "local:files/x"]),
            Self.user("b", home: "s3:team/alice/sub"),       // inside a's prefix
            Self.user("c", home: "s3:team/alice2"),          // a sibling, not inside "alice/"
            Self.user("d", home: "s3:shared/deep/er"),       // the whole bucket already covers it
            Self.user("e", home: "s3:team/a\u{301}/x"),       // bytes, not Characters
            Self.user("f", home: "s3:team/a"),
        ]
        let scopes = AbandonedUploadReaper.scopes(of: "s3", users: users).map(\.description)
        #expect(scopes.count == 5)
        #expect(Set(scopes) == ["shared/", "team/a/", "team/a\u{301}/x/", "team/alice/", "team/alice2/"])
        #expect(AbandonedUploadReaper.scopes(of: "local", users: users).map(\.description) == ["files/x/"])
        #expect(AbandonedUploadReaper.interval(forAge: 86_400) == 3600)
        #expect(AbandonedUploadReaper.interval(forAge: 4) == 2)
        #expect(AbandonedUploadReaper.interval(forAge: 0.5) == 1)
    }
}

@Suite struct ReloadSettingsTests {
    /// What a reload cannot change stays as at start, each change noted for the log: listeners'
    /// addresses, and whether a protocol is served at all.
    @Test func listenersAndServedProtocolsWaitForARestart() throws {
        let start = try ConfigLoaderTests.load("[sftp]\nlisten = \"\"\n" + ConfigLoaderTests.base + ConfigLoaderTests.user())
        let loaded = try ConfigLoaderTests.load("[ftp]\nlisten = \"127.0.0.1:2122\"\n" + ConfigLoaderTests.storage + ConfigLoaderTests.user())
        let (applied, notes) = Server.keepingRestartOnlySettings(loaded, running: start, atStart: start)
        #expect(applied.ftp?.listen?.port == 2121 && applied.sftp != nil)
        #expect(notes == ["[ftp] listen: 127.0.0.1:2121 -> 127.0.0.1:2122", "[sftp]: served -> removed"])
        let (back, added) = Server.keepingRestartOnlySettings(start, running: loaded, atStart: loaded)
        #expect(back.ftp?.listen?.port == 2122 && back.sftp == nil)
        #expect(added == ["[ftp] listen: 127.0.0.1:2122 -> 127.0.0.1:2121", "[sftp]: (none) -> added"])
        let (same, none) = Server.keepingRestartOnlySettings(start, running: start, atStart: start)
        #expect(none.isEmpty && same.ftp?.listen?.port == 2121 && same.sftp != nil)
    }
}
