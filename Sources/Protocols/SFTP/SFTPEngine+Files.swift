import Foundation
import Storage

/// OPEN, READ, WRITE, CLOSE, FSTAT, SETSTAT, FSETSTAT, OPENDIR, READDIR (draft-02 §6.3–6.9).
extension SFTPEngine {
    /// Entries per NAME reply: keeps each reply far below the clients' 256 KiB packet limit.
    static let entriesPerName = 100
    /// A READ this far past the stream's position is served by skipping forward; further ones reopen.
    static let skipLimit: UInt64 = 256 * 1024

    // MARK: Open and close

    func open(_ path: VirtualPath, flags: SFTPOpenFlags, attributes: SFTPAttributes) throws(SFTPFailure) -> [UInt8] {
        // CREAT without READ is a request to create (paramiko's mode "x" sends CREAT|EXCL alone): as
        // with OpenSSH's open(2), it creates the file, or fails with "File exists" under EXCL.
        let createsWithoutReading = flags.contains(.create) && !flags.contains(.read)
        if !flags.contains(.write) && !flags.contains(.append) && !createsWithoutReading {
            let (reader, info) = try sessionCall { () throws(SessionError) in try session.openRead(path, from: 0) }
            let file = SFTPReadHandle(path: path, info: info, reader: reader)
            reporter.started(path, .download)
            do {
                return try handles.insert(.file(file))
            } catch {
                file.close()
                throw error
            }
        }
        let truncates = flags.contains(.truncate)
        // CREAT without EXCL: a file this session knows is new is not asked for (its upload is
        // published only if still absent then; `Session.beginUpload`).
        let mayCreate = flags.contains(.create) && !flags.contains(.exclusive)
        let existingSize = try sessionCall { () throws(SessionError) in
            try session.checkUpload(path, replacing: truncates, mayCreate: mayCreate)
        }
        if existingSize == nil && !flags.contains(.create) { throw .session(.notFound(path.description)) }
        if existingSize != nil && flags.contains(.create) && flags.contains(.exclusive) {
            throw .session(.alreadyExists(path.description))
        }
        let start: SFTPWriteHandle.Start = if flags.contains(.create) && flags.contains(.exclusive) {
            .create
        } else if flags.contains(.truncate) || existingSize == nil {
            .replace
        } else if flags.contains(.append) {
            .append
        } else {
            .atFirstWrite(existingSize: existingSize)
        }
        if attributes.size.map({ $0 != 0 }) ?? false {
            logger.debug("SFTP OPEN size attribute ignored", metadata: ["path": "\(path)"])
        }
        let upload = SFTPWriteHandle(path: path, start: start, createsFile: existingSize == nil)
        reporter.started(path, .upload)
        return try handles.insert(.upload(upload))
    }

    func close(_ handle: [UInt8]) throws(SFTPFailure) {
        let item = try handles.item(handle)
        handles.remove(handle)
        switch item {
        case .directory:
            return
        case .file(let file):
            file.close()
            record(file, .complete)
        case .upload(let upload):
            do {
                try finishUpload(upload)
                record(upload, .complete)
                if let date = upload.modificationTime {
                    session.setModificationTimeAfterUpload(upload.path, to: date, storedWithUpload: upload.modificationTimeStored)
                }
            } catch {
                upload.abort()
                record(upload, .failed)
                throw error
            }
        }
    }

    /// Publishes a cleanly written upload; anything else is aborted by the caller.
    private func finishUpload(_ upload: SFTPWriteHandle) throws(SFTPFailure) {
        if let failure = upload.failure { throw failure }
        if upload.completedByCopy { return }
        if let order = upload.order, !order.isContiguous {
            logger.warning("upload aborted: data missing before CLOSE", metadata: [
                "path": "\(upload.path)", "first_missing": "\(order.expected)", "held_bytes": "\(order.heldBytes)"])
            throw .status(.failure, "Upload incomplete: data missing at offset \(order.expected); nothing was saved")
        }
        if upload.upload == nil {
            // Nothing written: a new or truncated file is created empty; an existing one stays as it was.
            guard upload.createsFile || upload.start.discardsExisting else { return }
            try beginStream(upload, at: 0)
        }
        let stream = upload.upload
        upload.upload = nil
        upload.modificationTimeStored = upload.modificationTime.map { stream?.recordModificationTime($0) == true } ?? false
        try storageCall { () throws(StorageError) in _ = try stream?.commit() }
    }

    // MARK: Writing

    func write(_ handle: [UInt8], offset: UInt64, data: ArraySlice<UInt8>) throws(SFTPFailure) {
        guard case .upload(let upload) = try handles.item(handle) else {
            throw .status(.permissionDenied, "Handle is not open for writing")
        }
        if let failure = upload.failure { throw failure }
        guard data.count <= settings.maxWriteLength else {
            throw fail(upload, .status(.badMessage, "WRITE longer than the advertised limit"))
        }
        upload.bytesReceived += UInt64(data.count)
        do throws(SFTPFailure) {
            if upload.upload == nil { try beginStream(upload, at: offset) }
            guard var order = upload.order, let stream = upload.upload else { return }
            // APPEND (draft-02 §6.3): every write goes to the end, whatever its offset.
            let position = if case .append = upload.start { order.expected } else { offset }
            let ready: [ArraySlice<UInt8>]
            do {
                ready = try order.accept(offset: position, data: data)
            } catch {
                throw SFTPFailure.status(.failure, Self.describe(error))
            }
            upload.order = order
            for chunk in ready {
                let outcome: Result<Void, StorageError> = chunk.withUnsafeBytes { raw in
                    do throws(StorageError) { return .success(try stream.write(raw)) } catch { return .failure(error) }
                }
                try storageCall { () throws(StorageError) in try outcome.get() }
            }
        } catch {
            throw fail(upload, error)
        }
    }

    /// Starts the storage upload. The first write decides where a plain (no TRUNC) open of an
    /// existing file resumes: at its offset when that is within the file, else at the file's end.
    private func beginStream(_ upload: SFTPWriteHandle, at firstOffset: UInt64) throws(SFTPFailure) {
        let mode: UploadMode
        let startOffset: UInt64
        switch upload.start {
        case .replace:
            (mode, startOffset) = (.replace, 0)
        case .create:
            (mode, startOffset) = (.create, 0)
        case .append:
            (mode, startOffset) = (.append, 0)
        case .atFirstWrite(let existing):
            let size = existing ?? 0
            let resumeAt = min(firstOffset, size)
            (mode, startOffset) = resumeAt == 0 ? (.replace, 0) : (.resume(offset: resumeAt), resumeAt)
        }
        let path = upload.path
        let stream = try sessionCall { () throws(SessionError) in try session.beginUpload(path, mode: mode) }
        var offset = startOffset
        if case .append = upload.start {
            offset = (try? sessionCall { () throws(SessionError) in try session.stat(path).size }) ?? 0
        }
        upload.upload = stream
        upload.order = SFTPWriteOrder(window: settings.reorderWindow, startingAt: offset)
    }

    private static func describe(_ refusal: SFTPWriteOrder.Refusal) -> String {
        switch refusal {
        case .beyondWindow(let offset, let expected, let window):
            "WRITE at offset \(offset) is too far ahead of the missing data at \(expected) (window \(window) bytes); upload aborted"
        case .rewrite(let offset, let expected):
            "WRITE at offset \(offset) rewrites data already stored (next expected \(expected)); upload aborted"
        }
    }

    /// Marks an upload failed and aborts it: the file is not published, later WRITEs and CLOSE fail.
    private func fail(_ upload: SFTPWriteHandle, _ failure: SFTPFailure) -> SFTPFailure {
        if upload.failure == nil {
            logger.warning("upload aborted", metadata: ["path": "\(upload.path)", "reason": "\(failure)"])
        }
        upload.failure = failure
        upload.abort()
        return failure
    }

    func storageCall<T>(_ body: () throws(StorageError) -> T) throws(SFTPFailure) -> T {
        do {
            return try body()
        } catch {
            throw .session(.storage(error))
        }
    }

    // MARK: Reading

    func read(id: UInt32, _ handle: [UInt8], offset: UInt64, length: UInt32) throws(SFTPFailure) -> SFTPReply {
        guard case .file(let file) = try handles.item(handle) else {
            throw .status(.permissionDenied, "Handle is not open for reading")
        }
        guard offset < file.info.size else { return .status(id: id, code: .endOfFile, message: "End of file") }
        let wanted = Int(min(UInt64(min(Int(length), settings.maxReadLength)), file.info.size - offset))
        let data = try readData(file, at: offset, length: wanted)
        if data.isEmpty { return .status(id: id, code: .endOfFile, message: "End of file") }
        file.bytesSent += UInt64(data.count)
        return .data(id: id, bytes: data)
    }

    /// Up to `length` bytes at `offset` (fewer only at the end of the object; empty at its end).
    func readData(_ file: SFTPReadHandle, at offset: UInt64, length: Int) throws(SFTPFailure) -> [UInt8] {
        try position(file, at: offset)
        guard let reader = file.reader, length > 0 else { return [] }
        var data = [UInt8](repeating: 0, count: length)
        let count = try readFully(file, reader, into: &data)
        if count < length { data.removeLast(length - count) }
        file.position += UInt64(data.count)
        return data
    }

    /// `readFully` for an open handle: a failure closes its stream, because where the stream stopped
    /// is unknown; the next READ then reopens at its own offset.
    private func readFully(_ file: SFTPReadHandle, _ reader: any ObjectReader,
                           into buffer: inout [UInt8]) throws(SFTPFailure) -> Int {
        do throws(SFTPFailure) {
            return try storageCall { () throws(StorageError) in try Self.readFully(reader, into: &buffer) }
        } catch {
            file.close()
            throw error
        }
    }

    /// Fills `buffer` from the stream; fewer bytes only at the end of the object.
    private static func readFully(_ reader: any ObjectReader, into buffer: inout [UInt8]) throws(StorageError) -> Int {
        let wanted = buffer.count
        let outcome: Result<Int, StorageError> = buffer.withUnsafeMutableBytes { raw in
            var count = 0
            do throws(StorageError) {
                while count < wanted {
                    let n = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[count..<wanted]))
                    if n == 0 { break }
                    count += n
                }
                return .success(count)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Moves the stream to `offset`: nothing to do for the next sequential READ, skip forward for a
    /// small gap, otherwise a new ranged GET from `offset`.
    private func position(_ file: SFTPReadHandle, at offset: UInt64) throws(SFTPFailure) {
        if offset == file.position, file.reader != nil { return }
        if offset > file.position, offset - file.position <= Self.skipLimit, let reader = file.reader {
            var remaining = Int(offset - file.position)
            while remaining > 0 {
                var scratch = [UInt8](repeating: 0, count: min(remaining, 64 * 1024))
                let n = try readFully(file, reader, into: &scratch)
                if n == 0 { break }
                remaining -= n
                file.position += UInt64(n)
            }
            if remaining == 0 { return }
        }
        file.close()
        file.repositions += 1
        let path = file.path
        let reader = try sessionCall { () throws(SessionError) in try session.openRead(path, from: offset).reader }
        file.reader = reader
        file.position = offset
    }

    // MARK: Attributes

    func fstat(_ handle: [UInt8]) throws(SFTPFailure) -> SFTPAttributes {
        switch try handles.item(handle) {
        case .file(let file):
            return SFTPAttributes(file.info)
        case .directory(let directory):
            let path = directory.path
            return SFTPAttributes(try sessionCall { () throws(SessionError) in try session.stat(path) })
        case .upload(let upload):
            let now = UInt32(clamping: Int64(Date().timeIntervalSince1970))
            return SFTPAttributes(size: upload.size, ownerGroup: nil, permissions: SFTPFileMode.regularFile | 0o644,
                                  times: (now, now))
        }
    }

    /// SETSTAT: a file's or directory's modification time is kept (`Session.setModificationTime`;
    /// WinSCP, FileZilla and `sftp -p` set it after an upload, rclone and `sftp put -rp` on
    /// directories too), or refused when the storage cannot keep it: never answered OK without
    /// effect. Size 0 empties the file, another size that differs from the file's is refused.
    /// Permissions, owners and access times cannot be kept by object storage and are accepted
    /// without effect. A time alone (what clients send after an upload) goes straight to
    /// `setModificationTime`, which finds out itself what is there: one HeadObject fewer than a
    /// stat first.
    func setstat(_ path: VirtualPath, _ attributes: SFTPAttributes) throws(SFTPFailure) {
        if attributes.size == nil, let date = attributes.modificationDate {
            do throws(SessionError) {
                try session.setModificationTime(path, to: date)
                logIgnored(attributes, path: path)
                return
            } catch .permissionDenied(let operation, let denied) {
                // A missing path answers "no such file" before "permission denied", as a stat tells.
                _ = try sessionCall { () throws(SessionError) in try session.stat(path) }
                throw .session(.permissionDenied(operation, denied))
            } catch {
                throw .session(error)
            }
        }
        let info = try sessionCall { () throws(SessionError) in try session.stat(path) }
        try applySize(attributes.size, currentSize: info.size, isDirectory: info.isDirectory, path: path)
        if let date = attributes.modificationDate {
            _ = try sessionCall { () throws(SessionError) in try session.setModificationTime(path, to: date) }
        }
        logIgnored(attributes, path: path)
    }

    func fsetstat(_ handle: [UInt8], _ attributes: SFTPAttributes) throws(SFTPFailure) {
        switch try handles.item(handle) {
        case .file(let file):
            try applySize(attributes.size, currentSize: file.info.size, isDirectory: false, path: file.path)
            if let date = attributes.modificationDate {
                _ = try sessionCall { () throws(SessionError) in try session.setModificationTime(file.path, to: date) }
            }
            logIgnored(attributes, path: file.path)
        case .directory(let directory):
            if attributes.size != nil { throw .session(.isADirectory(directory.path.description)) }
            if let date = attributes.modificationDate {
                _ = try sessionCall { () throws(SessionError) in try session.setModificationTime(directory.path, to: date) }
            }
            logIgnored(attributes, path: directory.path)
        case .upload(let upload):
            if let size = attributes.size, size != upload.size {
                // Truncating an upload that has not streamed anything yet: it simply starts over.
                guard size == 0, upload.upload == nil else {
                    throw .status(.operationUnsupported, "Object storage cannot change the size of a file being written")
                }
                if !upload.start.discardsExisting { upload.start = .replace }  // CREAT|EXCL stays create-only
            }
            if let date = attributes.modificationDate {
                // The file is published at CLOSE; its time is set then (the write permission was
                // checked at OPEN).
                upload.modificationTime = date
            }
            logIgnored(attributes, path: upload.path)
        }
    }

    private func applySize(_ size: UInt64?, currentSize: UInt64, isDirectory: Bool, path: VirtualPath) throws(SFTPFailure) {
        guard let size, size != currentSize || isDirectory else { return }
        if isDirectory { throw .session(.isADirectory(path.description)) }
        guard size == 0 else {
            throw .status(.operationUnsupported, "Object storage can only truncate a file to size 0")
        }
        let upload = try sessionCall { () throws(SessionError) in try session.beginUpload(path, mode: .replace) }
        try storageCall { () throws(StorageError) in _ = try upload.commit() }
        logger.info("file truncated to 0 bytes", metadata: ["user": "\(session.user.name)", "path": "\(path)"])
    }

    private func logIgnored(_ attributes: SFTPAttributes, path: VirtualPath) {
        if attributes.permissions != nil || attributes.ownerGroup != nil {
            logger.debug("SETSTAT of permissions or owner ignored: object storage does not keep them",
                         metadata: ["path": "\(path)"])
        }
    }

    // MARK: Directories

    func opendir(_ path: VirtualPath) throws(SFTPFailure) -> [UInt8] {
        let info = try sessionCall { () throws(SessionError) in try session.statExpectingDirectory(path) }
        if !info.isDirectory { throw .session(.notADirectory(path.description)) }
        let lister = try sessionCall { () throws(SessionError) in try session.openDirectory(path) }
        return try handles.insert(.directory(SFTPDirectoryHandle(path: path, lister: lister)))
    }

    func readdir(id: UInt32, _ handle: [UInt8]) throws(SFTPFailure) -> SFTPReply {
        guard case .directory(let directory) = try handles.item(handle) else {
            throw .status(.failure, "Handle is not a directory")
        }
        if directory.pending.isEmpty {
            let lister = directory.lister
            guard let batch = try sessionCall({ () throws(SessionError) in try lister.nextBatch() }) else {
                return .status(id: id, code: .endOfFile, message: "End of directory")
            }
            directory.pending = batch[...]
        }
        let now = Date()
        let page = directory.pending.prefix(Self.entriesPerName)
        directory.pending = directory.pending.dropFirst(page.count)
        return .name(id: id, entries: page.map { SFTPNameEntry($0, now: now) })
    }
}
