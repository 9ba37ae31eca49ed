import Auth
import Logging
import Protocols
import Storage

/// Every fuzz target by name (`make fuzz`, `Fuzz/README.md`). The unit tests replay the seed corpus
/// and every input that once crashed (`Fuzz/regressions/`) through the same functions.
enum FuzzTargets {
    static let all: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("ftp-control", ProtocolFuzzTargets.ftpControl),
        ("path", ProtocolFuzzTargets.path),
        ("sftp", { ProtocolFuzzTargets.sftp($0) }),
        ("scp", ProtocolFuzzTargets.scp),
        ("proxy-header", ProtocolFuzzTargets.proxyHeader),
        ("config", config),
        ("s3-xml", StorageFuzzTargets.s3XML),
        ("identity-answer", identityAnswer),
    ]

    static func named(_ name: String) -> (@Sendable ([UInt8]) -> Void)? {
        all.first { $0.name == name }?.run
    }

    /// The identity service's answer (untrusted JSON from the network) through the same reading as
    /// a login's: JSON into `ConfigValue`, then the `[[user]]` checks.
    static func identityAnswer(_ data: [UInt8]) {
        let query = IdentityQuery(user: "alice", credential: .password("pw"), service: "ftp", clientAddress: "192.0.2.1")
        _ = identityService.interpret(status: 200, body: data, query: query)
    }

    private static let identityService = HTTPIdentityService(
        auth: FerryConfig.Auth(), url: "http://127.0.0.1:1/",
        storages: [FerryConfig.Storage(name: "local", driver: .local(root: "/nonexistent/ferry-fuzz")),
                   FerryConfig.Storage(name: "s3", driver: .local(root: "/nonexistent/ferry-fuzz-2"))],
        logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))

    /// The configuration loader on arbitrary TOML text, without touching files or the environment.
    static func config(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        _ = try? ConfigLoader(environment: [:], checkFiles: false, resolveNames: false).load(text: text)
    }
}
