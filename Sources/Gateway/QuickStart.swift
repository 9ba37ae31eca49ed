import Auth
import Foundation
import Protocols

extension QuickStart {
    static let certificatePath = "certs/server.crt"
    static let privateKeyPath = "certs/server.key"

    /// Makes the quick start's self-signed certificate once (OpenSSL's API, no shelling out).
    static func ensureCertificate() throws(TLSError) -> FerryConfig.TLS {
        if !FileManager.default.fileExists(atPath: certificatePath) || !FileManager.default.fileExists(atPath: privateKeyPath) {
            try? FileManager.default.createDirectory(atPath: "certs", withIntermediateDirectories: true)
            try TLSContext.generateSelfSigned(certificate: certificatePath, privateKey: privateKeyPath)
        }
        return FerryConfig.TLS(certificate: certificatePath, privateKey: privateKeyPath, minVersion: .tls12, ciphers: nil)
    }

    static let hostKeyPaths: [(SSHHostKeys.Kind, String)] = [
        (.ed25519, "certs/ssh_host_ed25519_key"), (.rsa, "certs/ssh_host_rsa_key"),
    ]

    /// Makes the quick start's SSH host keys once (libssh's key API); later starts reuse them, so
    /// clients do not see a changed host key.
    static func ensureHostKeys() throws(SSHError) -> [String] {
        for (kind, path) in hostKeyPaths where !FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.createDirectory(atPath: "certs", withIntermediateDirectories: true)
            try SSHHostKeys.generate(kind, at: path)
        }
        return hostKeyPaths.map(\.1)
    }
}

/// `ferry serve` without a configuration: local storage in `./data`, FTP and FTPS on 127.0.0.1:2121,
/// SFTP on 127.0.0.1:2222 (loopback only), and one user `demo` with a fresh random password printed
/// with ready-to-paste client lines.
enum QuickStart {
    static let ftpPort: UInt16 = 2121
    static let sftpPort: UInt16 = 2222
    static let passivePorts: ClosedRange<UInt16> = 50000...50100

    static func randomPassword(length: Int = 16) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    static func configuration(password: String, tls: FerryConfig.TLS?, hostKeys: [String]) -> FerryConfig {
        var config = FerryConfig()
        config.tls = tls
        config.ftp = FerryConfig.FTP(listen: SocketAddress(host: "127.0.0.1", port: ftpPort), passivePorts: passivePorts,
                                     masqueradeAddress: nil, tls: tls == nil ? .off : .optional, tlsSessionReuse: .required,
                                     activeMode: true)
        if !hostKeys.isEmpty {
            config.sftp = FerryConfig.SFTP(listen: SocketAddress(host: "127.0.0.1", port: sftpPort), hostKeys: hostKeys)
        }
        config.storages = [FerryConfig.Storage(name: "local", driver: .local(root: "data"))]
        config.users = [User(name: "demo", passwordHash: PasswordHash(plain: password), sshKeys: [],
                             home: StorageBinding(storage: "local", bucket: "demo", prefix: ""),
                             authority: .readWrite, mayDelete: true, folders: [])]
        config.log.transferLog = ""
        return config
    }

    static func banner(password: String, sftp: Bool) -> String {
        let sftpLines = sftp ? """

          sftp      sftp -P \(sftpPort) demo@127.0.0.1      (scp -P \(sftpPort) FILE demo@127.0.0.1: works too)
          FileZilla Host sftp://127.0.0.1, Port \(sftpPort), User demo, Password as above
        """ : ""
        let data = FileManager.default.currentDirectoryPath + "/data/demo"
        return """

        Ferry quick start: serving \(data) on 127.0.0.1 (loopback only)

          user      demo
          password  \(password)

          lftp      lftp -u demo,\(password) -p \(ftpPort) 127.0.0.1
          curl      curl -u demo:\(password) ftp://127.0.0.1:\(ftpPort)/
                    curl -u demo:\(password) -T FILE ftp://127.0.0.1:\(ftpPort)/
          FileZilla Host 127.0.0.1, Port \(ftpPort), Protocol FTP, Encryption "Require explicit FTP over
                    TLS", Logon Type Normal, User demo, Password as above (accept the self-signed
                    certificate from certs/server.crt when FileZilla shows it)
          curl TLS  curl --ssl-reqd -k -u demo:\(password) ftp://127.0.0.1:\(ftpPort)/
          Python    python3 -c "import ftplib; f=ftplib.FTP(); f.connect('127.0.0.1', \(ftpPort)); f.login('demo', '\(password)'); print(f.nlst())"\(sftpLines)

        The password is new on every start. For a real setup copy conf/ferry.local.example.toml to
        conf/ferry.toml (picked up automatically; conf/ferry.example.toml shows every setting) or
        run `ferry serve --config PATH`. Stop with Ctrl-C.

        """
    }
}
