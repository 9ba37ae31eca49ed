#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Auth
import Foundation

/// `ferry import-cos-config PATH`: the converted TOML on stdout, the report on stderr, the COS keys
/// in a new environment file (mode 0600). The original file is only read.
struct ImportCosConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-cos-config",
        abstract: "Convert a cos-ftp-server configuration (conf/vsftpd.conf) into Ferry TOML on stdout.",
        discussion: """
            The report on stderr names every option that was mapped, ignored (with why) or could not be \
            mapped. Passwords are hashed. The COS keys go to a new environment file (mode 0600) and the \
            TOML refers to them with env:, unless --inline-secrets is given.
            """)

    @Argument(help: "The cos-ftp-server configuration file.")
    var path: String

    @Option(name: .long, help: "Where to write the COS keys (must not exist yet).")
    var envFile = "cos-credentials.env"

    @Flag(name: .long, help: "Write the COS keys into the TOML instead of an environment file.")
    var inlineSecrets = false

    @Option(name: .long, help: "Use this endpoint URL for every account instead of COS's (a private deployment).")
    var endpoint: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("import-cos-config: cannot read \(path)")
            throw ExitCode(1)
        }
        let file: CosINIFile
        do {
            file = try CosINIFile(bytes: [UInt8](data))
        } catch {
            printError("import-cos-config: \(path): \(error)")
            throw ExitCode(1)
        }
        let options = CosImport.Options(inlineSecrets: inlineSecrets, endpointOverride: endpoint, environmentFileName: envFile)
        let result: CosImport
        do {
            result = try CosImport.convert(file, source: path, options: options) { PasswordHash.make($0) }
        } catch {
            printError("import-cos-config: \(path): \(error)")
            throw ExitCode(1)
        }
        if !result.environment.isEmpty {
            do {
                try Self.writeEnvironmentFile(envFile, result.environment)
            } catch {
                printError("import-cos-config: \(error)")
                throw ExitCode(1)
            }
        }
        FileHandle.standardOutput.write(Data(result.toml.utf8))
        for line in result.report { printError(line.description) }
        if !result.environment.isEmpty { printError("wrote the COS keys to \(envFile) (mode 0600)") }
    }

    struct EnvironmentFileError: Error, CustomStringConvertible {
        let description: String
    }

    /// Creates `path` with mode 0600; never replaces a file (not the original config, not keys
    /// written earlier).
    static func writeEnvironmentFile(_ path: String, _ variables: [(name: String, value: String)]) throws(EnvironmentFileError) {
        let text = variables.map { "\($0.name)=\(shellQuoted($0.value))\n" }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it exists already (remove it or choose another --env-file)" : String(cString: strerror(errno))
            throw EnvironmentFileError(description: "cannot create \(path): \(reason)")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw EnvironmentFileError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
    }

    /// Bare when the value is plain, else in single quotes (what both sh and systemd's
    /// EnvironmentFile= read back unchanged).
    static func shellQuoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            ($0.properties.isASCIIHexDigit || ("a"..."z").contains($0) || ("A"..."Z").contains($0)
             || "+/=._-".unicodeScalars.contains($0))
        }
        return plain ? value : "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
