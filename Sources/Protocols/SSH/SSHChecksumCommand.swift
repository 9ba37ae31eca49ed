import Digests
import Foundation
import Logging

/// `md5sum`, `sha1sum` or `sha256sum` over an SSH exec channel, in the form rclone's sftp backend
/// sends them (`backend/sftp/sftp.go`): first a probe with no file and empty input, whose output
/// must start with the empty input's digest; then `<command> <path>` on a channel of its own, the
/// path backslash-escaped for a POSIX shell, answered as GNU coreutils answers (`<hex>  <path>`,
/// exit status 0). No program and no shell ever run: the words are taken literally after quote
/// removal, and each file's digest comes from `Session.checksum` (read permission, stored digests
/// first, reading only up to `max_hash_size`).
struct SSHChecksumCommand: Equatable, Sendable {
    var algorithm: ChecksumAlgorithm
    /// The program name the client ran, for its messages.
    var program: String
    /// The files as the client named them; `-` (or none at all) is the standard input.
    var paths: [String]

    static let programs: [String: ChecksumAlgorithm] = ["md5sum": .md5, "sha1sum": .sha1, "sha256sum": .sha256]

    /// Parses `md5sum|sha1sum|sha256sum [--] [PATH...]`; nil for any other command or any option
    /// (`-c`, `--tag` and the like are not offered).
    static func parse(_ command: String) -> SSHChecksumCommand? {
        guard let words = SCPCommand.shellWords(command), let program = words.first,
              let algorithm = programs[program] else { return nil }
        var paths: [String] = []
        var optionsEnded = false
        for word in words.dropFirst() {
            if !optionsEnded && word == "--" {
                optionsEnded = true
            } else if !optionsEnded && word.hasPrefix("-") && word != "-" {
                return nil
            } else {
                paths.append(word)
            }
        }
        return SSHChecksumCommand(algorithm: algorithm, program: program, paths: paths)
    }

    /// GNU's output line for one input: a name holding a backslash or a newline is escaped, and the
    /// line then starts with a backslash (rclone strips it).
    static func line(digest: [UInt8], name: String) -> [UInt8] {
        let backslash = UInt8(ascii: "\\"), newline = UInt8(ascii: "\n")
        var escaped: [UInt8] = []
        var needsEscape = false
        for byte in name.utf8 {
            switch byte {
            case backslash: escaped += [backslash, backslash]; needsEscape = true
            case newline: escaped += [backslash, UInt8(ascii: "n")]; needsEscape = true
            default: escaped.append(byte)
            }
        }
        return (needsEscape ? [backslash] : []) + Array(Digest.hex(digest).utf8) + Array("  ".utf8) + escaped + [newline]
    }
}

/// Runs one `SSHChecksumCommand` on its channel: a line per input on standard output, a message per
/// failed input on standard error (the others still answered), exit status 1 if any failed.
struct SSHChecksumRun {
    let command: SSHChecksumCommand
    let session: Session
    let channel: SSHChannelStream
    let idleTimeout: TimeInterval
    let logger: Logger

    func run() -> Int32 {
        var failures = 0
        for name in command.paths.isEmpty ? ["-"] : command.paths {
            let digest: [UInt8]
            do {
                digest = name == "-" ? try standardInputDigest() : try fileDigest(name)
            } catch let failure as Failure {
                failures += 1
                logger.info("checksum command failed", metadata: [
                    "command": "\(command.program)", "path": "\(name)", "reason": "\(failure.logText)"])
                do {
                    try channel.writeStandardError("\(command.program): \(name): \(failure.message)\n")
                } catch {
                    return 1
                }
                continue
            } catch {
                // The channel failed under the read of standard input, or OpenSSL did.
                logger.info("checksum command failed", metadata: ["command": "\(command.program)", "path": "\(name)", "reason": "\(error)"])
                try? channel.writeStandardError("\(command.program): \(name): \(error)\n")
                return 1
            }
            do {
                try channel.write(SSHChecksumCommand.line(digest: digest, name: name))
            } catch {
                logger.info("checksum command: channel failed", metadata: ["reason": "\(error)"])
                return 1
            }
        }
        return failures == 0 ? 0 : 1
    }

    /// Why one input has no digest: the client sees `message`, the log `logText`.
    private struct Failure: Error {
        var message: String
        var logText: String
    }

    private func fileDigest(_ name: String) throws -> [UInt8] {
        let path: VirtualPath
        do {
            path = try VirtualPath.resolve(name, from: .root)
        } catch {
            throw Failure(message: "No such file or directory", logText: "\(error)")
        }
        do {
            let (digest, size) = try session.checksum(path, command.algorithm)
            logger.info("checksum command", metadata: [
                "command": "\(command.program)", "path": "\(path)", "bytes": "\(size)"])
            return digest
        } catch {
            throw Failure(message: Self.message(for: error), logText: error.description)
        }
    }

    /// The words GNU coreutils use for the common failures, so scripts see what they expect.
    private static func message(for error: SessionError) -> String {
        switch error {
        case .notFound, .invalidPath: "No such file or directory"
        case .isADirectory: "Is a directory"
        case .notADirectory: "Not a directory"
        case .permissionDenied: "Permission denied"
        case .alreadyExists, .directoryNotEmpty, .bindingRoot, .renameIntoItself, .offsetBeyondEnd, .storage,
             .unknownStorage, .tooLargeToHash:
            error.description
        }
    }

    /// The digest of what the client sends until it closes its side (rclone's probe sends nothing),
    /// at most `max_hash_size` bytes like any checksum.
    private func standardInputDigest() throws -> [UInt8] {
        let running = try RunningChecksum(command.algorithm)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var lastData = Date()
        var total: UInt64 = 0
        let limit = session.storages.maxHashSize
        while true {
            let count = try buffer.withUnsafeMutableBytes { raw in try channel.read(into: raw, timeout: 1) }
            guard let count else { break }
            if count == 0 {
                if Date().timeIntervalSince(lastData) > idleTimeout {
                    throw Failure(message: "no input within the idle timeout", logText: "standard input idle")
                }
                continue
            }
            lastData = Date()
            total += UInt64(count)
            guard total <= limit else {
                throw Failure(message: "more than max_hash_size (\(limit) bytes) on standard input", logText: "standard input too long")
            }
            try buffer.withUnsafeBytes { raw in try running.update(UnsafeRawBufferPointer(rebasing: raw[0..<count])) }
        }
        return try running.finish()
    }
}
