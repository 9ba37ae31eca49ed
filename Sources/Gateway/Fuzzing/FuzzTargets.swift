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
    ]

    static func named(_ name: String) -> (@Sendable ([UInt8]) -> Void)? {
        all.first { $0.name == name }?.run
    }

    /// The configuration loader on arbitrary TOML text, without touching files or the environment.
    static func config(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        _ = try? ConfigLoader(environment: [:], checkFiles: false, resolveNames: false).load(text: text)
    }
}
