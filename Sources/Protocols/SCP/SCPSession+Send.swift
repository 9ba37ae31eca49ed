import Foundation
import Storage

/// `scp -f`: Ferry sends the named files (and directories with -r) to the client.
extension SCPSession {
    static let chunkSize = 256 * 1024

    func sendFiles() throws {
        // The client starts by saying it is ready.
        guard try response() else { return }
        for argument in command.paths {
            try checkUserStanding()
            do {
                let path = try session.resolve(argument, from: .root)
                let info = try session.stat(path)
                if info.isDirectory {
                    guard command.recursive else {
                        try sendError(.warning, "\(argument): not a regular file")
                        continue
                    }
                    try sendDirectory(path, info)
                } else {
                    try sendFile(path, info)
                }
            } catch let error as SessionError {
                try sendError(.warning, "\(argument): \(reason(error))")
            }
        }
    }

    private func sendTimes(_ info: FileInfo) throws -> Bool {
        guard command.preserveTimes else { return true }
        let seconds = Int64(info.modified.timeIntervalSince1970)
        try send(Array("T\(seconds) 0 \(seconds) 0\n".utf8))
        return try response()
    }

    private func sendFile(_ path: VirtualPath, _ info: FileInfo) throws {
        guard try sendTimes(info) else { return }
        let (reader, opened) = try session.openRead(path, from: 0)
        defer { reader.close() }
        let mode = opened.permissions.canWrite ? "0644" : "0444"
        try send(Array("C\(mode) \(opened.size) \(opened.name)\n".utf8))
        guard try response() else { return }
        let started = Date()
        reporter.started(path, .download)
        var sent: UInt64 = 0
        var failure: StorageError?
        var chunk = [UInt8](repeating: 0, count: Self.chunkSize)
        while sent < opened.size {
            let want = Int(min(UInt64(chunk.count), opened.size - sent))
            var count = 0
            if failure == nil {
                do {
                    count = try chunk.withUnsafeMutableBytes { raw throws(StorageError) in
                        try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]))
                    }
                    if count == 0 { failure = .io(detail: "the object ended early") }
                } catch let error as StorageError {
                    failure = error
                } catch {
                    failure = .io(detail: "\(error)")
                }
            }
            if failure != nil {
                // The announced size must be sent whatever happens; the status byte says it failed.
                count = want
                for index in 0..<want { chunk[index] = 0 }
            }
            try send(Array(chunk[0..<count]))
            sent += UInt64(count)
        }
        if let failure {
            record(path, .download, bytes: sent, started: started, outcome: .failed)
            try sendError(.warning, "\(path.name): \(reason(.storage(failure)))")
            return
        }
        try sendOK()
        let confirmed = try response()
        record(path, .download, bytes: sent, started: started, outcome: confirmed ? .complete : .aborted)
    }

    private func sendDirectory(_ path: VirtualPath, _ info: FileInfo) throws {
        guard try sendTimes(info) else { return }
        try send(Array("D0755 0 \(path.isRoot ? "." : info.name)\n".utf8))
        guard try response() else { return }
        let lister = try session.openDirectory(path)
        while let batch = try lister.nextBatch() {
            for entry in batch {
                let child = try session.resolve(entry.name, from: path)
                try checkUserStanding()
                do {
                    if entry.isDirectory {
                        try sendDirectory(child, try session.stat(child))
                    } else {
                        try sendFile(child, entry)
                    }
                } catch let error as SessionError {
                    try sendError(.warning, "\(child): \(reason(error))")
                }
            }
        }
        try send(Array("E\n".utf8))
        _ = try response()
    }
}
