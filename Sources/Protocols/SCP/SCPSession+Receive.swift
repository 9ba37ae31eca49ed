import Foundation
import Storage

/// `scp -t`: the client sends files (and directories with -r) into the target.
extension SCPSession {
    func receiveFiles() throws {
        let target: VirtualPath
        do {
            target = try session.resolve(command.paths[0], from: .root)
        } catch {
            try sendError(.fatal, "\(command.paths[0]): \(reason(error))")
            return
        }
        let targetIsDirectory = (try? session.stat(target))?.isDirectory ?? false
        if command.targetIsDirectory && !targetIsDirectory {
            try sendError(.fatal, "\(target): Not a directory")
            return
        }
        try sendOK()
        /// The time of a `T` line, for the file of the next `C` line.
        var pendingModificationTime: Date?
        /// The directories entered (D lines; empty = at the target), each with the time its T line gave, set at its E line
        /// (as OpenSSH's scp sets a directory's time once its content is written).
        var stack: [(path: VirtualPath, modificationTime: Date?)] = []
        /// A C or D line names one entry: a plain name (checked bytewise by `appending`), never a path,
        /// and valid UTF-8 (`isUTF8`: the line was decoded with replacement, which would store "�").
        func destination(_ name: String, isUTF8: Bool) throws(SessionError) -> VirtualPath {
            guard isUTF8 else { throw .invalidPath(.invalidUTF8) }
            do throws(PathError) {
                if let current = stack.last { return try current.path.appending(name) }
                return targetIsDirectory ? try target.appending(name) : target
            } catch {
                throw .invalidPath(error)
            }
        }
        while let line = try readLine() {
            guard let kind = line.first else { throw Stop.protocolError("empty control line") }
            let validated = String(validating: line.dropFirst(), as: UTF8.self)
            let rest = validated ?? String(decoding: line.dropFirst(), as: UTF8.self)
            let isUTF8 = validated != nil
            switch kind {
            case Status.warning.rawValue, Status.fatal.rawValue:
                logger.info("scp client error", metadata: ["message": "\(rest)"])
                hadErrors = true
                if kind == Status.fatal.rawValue { return }
            case UInt8(ascii: "T"):
                // scp -p: `T<mtime> 0 <atime> 0` for the next file; a malformed line just keeps no time.
                pendingModificationTime = Self.parseTimes(rest)
                try sendOK()
            case UInt8(ascii: "C"):
                try checkUserStanding()
                guard let (size, name) = Self.parseEntry(rest) else { throw Stop.protocolError("bad C line") }
                let modificationTime = pendingModificationTime
                pendingModificationTime = nil
                do {
                    try receiveFile(at: try destination(name, isUTF8: isUTF8), size: size, modificationTime: modificationTime)
                } catch let error as SessionError {
                    try sendError(.warning, "\(name): \(reason(error))")
                }
            case UInt8(ascii: "D"):
                try checkUserStanding()
                let modificationTime = pendingModificationTime  // a T line before D is the directory's
                pendingModificationTime = nil
                guard command.recursive else { throw Stop.protocolError("D without -r") }
                guard let (_, name) = Self.parseEntry(rest) else { throw Stop.protocolError("bad D line") }
                do {
                    let directory = try destination(name, isUTF8: isUTF8)
                    if (try? session.stat(directory))?.isDirectory != true {
                        try session.makeDirectory(directory)
                    }
                    stack.append((directory, modificationTime))
                    try sendOK()
                } catch let error as SessionError {
                    try sendError(.fatal, "\(name): \(reason(error))")
                    return
                }
            case UInt8(ascii: "E"):
                guard let left = stack.popLast() else { throw Stop.protocolError("E outside a directory") }
                if let failure = setTime(of: left.path, to: left.modificationTime) {
                    // As OpenSSH's scp: a warning, and the copy goes on.
                    try sendError(.warning, failure)
                } else {
                    try sendOK()
                }
            default:
                throw Stop.protocolError("unknown control line")
            }
        }
    }

    /// Sets a directory's time when its T line gave one; the warning to send when that failed.
    private func setTime(of directory: VirtualPath, to modificationTime: Date?) -> String? {
        guard let modificationTime else { return nil }
        do throws(SessionError) {
            try session.setModificationTime(directory, to: modificationTime)
            return nil
        } catch {
            return "\(directory): set times: \(reason(error))"
        }
    }

    /// `<mtime> 0 <atime> 0` (the rest of a T line): the modification time, nil when malformed or
    /// outside the times a file may be given.
    static func parseTimes(_ text: String) -> Date? {
        let fields = text.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
        guard fields.count == 4, !fields[0].isEmpty, fields[0].count <= 12,
              fields[0].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let seconds = Int64(String(decoding: fields[0], as: UTF8.self)),
              StoredMetadata.modificationTimeRange.contains(TimeInterval(seconds)) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// `<mode> <size> <name>` after the C or D, split on the space byte (a name may start with a
    /// combining mark, which would make one Character with the space before it).
    static func parseEntry(_ text: String) -> (size: UInt64, name: String)? {
        let parts = text.utf8.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4,
              UInt32(String(decoding: parts[0], as: UTF8.self), radix: 8) != nil,
              parts[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let size = UInt64(String(decoding: parts[1], as: UTF8.self)) else { return nil }
        return (size, String(decoding: parts[2], as: UTF8.self))
    }

    /// One file: accepted (or refused before its bytes come), streamed into an upload, published
    /// only when all its bytes arrived and the client reported success for it.
    private func receiveFile(at path: VirtualPath, size: UInt64, modificationTime: Date?) throws -> Void {
        let upload = try session.beginUpload(path, mode: .replace)
        let started = Date()
        reporter.started(path, .upload)
        try sendOK()
        var received: UInt64 = 0
        var storageFailure: StorageError?
        do {
            try reader.data(size) { chunk in
                received += UInt64(chunk.count)
                guard storageFailure == nil else { return }  // keep reading: the protocol must stay in step
                do {
                    try chunk.withUnsafeBytes { raw in try upload.write(raw) }
                } catch let error as StorageError {
                    storageFailure = error
                }
            }
        } catch {
            upload.abort()
            record(path, .upload, bytes: received, started: started, outcome: .aborted)
            throw Stop.channel("\(error)")
        }
        guard try response() else {
            upload.abort()  // the client could not read its file: nothing is published
            record(path, .upload, bytes: received, started: started, outcome: .aborted)
            return
        }
        do {
            if let storageFailure { throw storageFailure }
            // The `T` line came first: the time goes with the object when the storage can take it.
            let timeStored = modificationTime.map { upload.recordModificationTime($0) } ?? false
            try upload.commit()
            record(path, .upload, bytes: received, started: started, outcome: .complete)
            if let modificationTime {
                session.setModificationTimeAfterUpload(path, to: modificationTime, storedWithUpload: timeStored)
            }
            try sendOK()
        } catch let error as StorageError {
            upload.abort()
            record(path, .upload, bytes: received, started: started, outcome: .failed)
            try sendError(.warning, "\(path.name): \(reason(.storage(error)))")
        }
    }
}
