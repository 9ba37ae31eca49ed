#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Storage

/// How a transfer ended early.
enum FTPTransferFailure: Error {
    /// The client sent ABOR.
    case aborted
    /// The control connection closed during the transfer.
    case controlClosed
    case dataConnection(String)
    case timedOut
    /// Storage (or the session) failed; the data connection is closed and the error answered.
    case failed(SessionError)

    /// Whose side ended the transfer: the client's (cancelled, gone, stalled) or Ferry's.
    var outcome: TransferOutcome {
        switch self {
        case .aborted, .controlClosed, .dataConnection, .timedOut: .aborted
        case .failed: .failed
        }
    }
}

/// RETR, STOR, STOU, APPE, REST and the listing transfers: every transfer runs through
/// `runTransfer`, which watches the control connection for ABOR while bytes move, never publishes an
/// upload that did not end cleanly, and reports each transfer to the log and the observer.
extension FTPConnection {
    static let transferBufferSize = 256 * 1024

    func handleREST(_ argument: String) {
        guard let offset = FTPArguments.restartOffset(argument) else {
            reply(.syntaxErrorInParameters, "REST needs a byte offset.")
            return
        }
        restartOffset = offset
        reply(.fileActionPendingFurtherInformation, "Restart position accepted (\(offset)).")
    }

    func takeRestartOffset() -> UInt64 {
        defer { restartOffset = 0 }
        return restartOffset
    }

    func handleABOR() {
        closeDataEndpoint()
        reply(.dataConnectionOpenNoTransfer, "No transfer to ABOR.")
    }

    // MARK: Watching the control connection

    /// Reads control lines that arrived during a transfer: ABOR ends it, STAT is answered at once,
    /// anything else waits its turn. Returns the failure to raise, if any.
    private func checkControlDuringTransfer(bytes: UInt64) -> FTPTransferFailure? {
        while let input = control.pollLine() {
            switch input {
            case .line(let line):
                switch FTPCommandTable.byVerb[FTPCommandTable.parse(line).verb]?.duringTransfer ?? .waits {
                case .abortsTheTransfer:
                    return .aborted
                case .reportsProgress:
                    reply(.systemStatus, "Transfer in progress: \(bytes) bytes so far.")
                case .waits:
                    queuedLines.append(input)
                }
            case .closed:
                isClosing = true
                return .controlClosed
            case .tooLong, .invalidEncoding, .timedOut:
                queuedLines.append(input)
            }
        }
        return nil
    }

    /// Sends bytes on the data connection while watching the control connection for ABOR.
    func sendData(_ bytes: UnsafeRawBufferPointer, over data: any ByteStream, progress: UInt64) throws(FTPTransferFailure) {
        var offset = 0
        while offset < bytes.count {
            if let failure = checkControlDuringTransfer(bytes: progress + UInt64(offset)) { throw failure }
            let written: Int
            do {
                written = try data.writeAvailable(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                throw .dataConnection("\(error)")
            }
            offset += written
            if written == 0 { try waitForData(data) }
        }
    }

    /// Receives bytes from the data connection while watching the control connection; 0 = the data
    /// ended cleanly (plain: FIN; TLS: close_notify — a TLS connection cut without it is an error).
    func receiveData(into buffer: UnsafeMutableRawBufferPointer, from data: any ByteStream, progress: UInt64) throws(FTPTransferFailure) -> Int {
        while true {
            if let failure = checkControlDuringTransfer(bytes: progress) { throw failure }
            let read: Int?
            do {
                read = try data.readAvailable(into: buffer)
            } catch {
                throw .dataConnection("\(error)")
            }
            if let read { return read }
            try waitForData(data)
        }
    }

    /// Waits until the data stream can progress or the control connection has something to say.
    private func waitForData(_ data: any ByteStream) throws(FTPTransferFailure) {
        if control.hasBufferedLine || control.stream.hasBufferedInput { return }
        let events: [Int16]
        do {
            events = try Socket.poll([(data.socket, data.wantedEvents), (control.socket, Socket.readableEvents)],
                                     timeout: context.settings.dataTimeout)
        } catch {
            throw .dataConnection("\(error)")
        }
        if events.allSatisfy({ $0 == 0 }) { throw .timedOut }
    }

    /// How long to watch the control connection after an upload's data ended before publishing it.
    static let killedClientGrace: TimeInterval = 0.02

    /// In stream mode the end of the data connection is the end of the file, so a client killed in
    /// the middle of an upload looks like one that finished. What gives it away is its control
    /// connection closing at the same moment: a client that finished keeps it open for the 226.
    /// Throws `.controlClosed` when the control connection closes within `killedClientGrace`.
    func confirmClientAwaitsReply(progress: UInt64) throws(FTPTransferFailure) {
        let readable: Bool
        do {
            readable = try control.stream.waitReadable(timeout: Self.killedClientGrace)
        } catch {
            throw .controlClosed
        }
        if readable, let failure = checkControlDuringTransfer(bytes: progress) { throw failure }
    }

    // MARK: The transfer frame

    /// Announces the transfer (150), makes the data connection, runs `body`, closes the data
    /// connection and answers: 226 when `body` finished, 426 (+226 for ABOR) or the storage error's
    /// reply otherwise. `body` returns the bytes moved and reports progress through `moved`.
    func runTransfer(_ direction: TransferRecord.Direction, path: VirtualPath, announcement: String,
                     completion: String = "Transfer complete.", logged: Bool = true,
                     body: (any ByteStream, inout UInt64) throws(FTPTransferFailure) -> Void) {
        if context.settings.tls?.policy == .required && dataProtection == .clear {
            closeDataEndpoint()
            reply(.dataProtectionLevelNotAccepted, "Data connections must be encrypted: use PBSZ 0 and PROT P.")
            return
        }
        reply(.fileStatusOkay, announcement)
        let connection: Socket
        do throws(FTPDataConnectionError) {
            connection = try openDataConnection()
        } catch {
            switch error {
            case .noEndpoint:
                reply(.cannotOpenDataConnection, "Use PORT, EPRT, PASV or EPSV first.")
            case .failed(let reason):
                logger.warning("data connection failed", metadata: ["reason": "\(reason)"])
                reply(.cannotOpenDataConnection, "Failed to establish the data connection.")
            }
            return
        }
        guard let data = protectDataConnection(connection, path: path) else { return }
        let started = Date()
        let reporter = logged ? session.map { session in
            TransferReporter(service: .ftp, user: session.user.name, remoteHost: clientAddress.host,
                             observer: context.observer, logger: logger)
        } : nil
        reporter?.started(path, direction)
        var moved: UInt64 = 0
        var failure: FTPTransferFailure?
        do throws(FTPTransferFailure) {
            try body(data, &moved)
        } catch {
            failure = error
        }
        if failure == nil {
            // TLS: our close_notify marks a complete download, and answers the client's after an upload.
            data.finish(timeout: context.settings.dataTimeout)
        } else {
            data.close()
        }
        reporter?.finished(path, direction, bytes: moved, started: started, outcome: failure?.outcome ?? .complete,
                           binary: transferType == .binary, details: failure.map { ["error": "\($0)"] } ?? [:])
        switch failure {
        case nil:
            reply(.closingDataConnection, completion)
        case .aborted:
            reply(.connectionClosedTransferAborted, "Transfer aborted.")
            reply(.closingDataConnection, "ABOR successful.")
        case .controlClosed:
            break
        case .dataConnection:
            reply(.connectionClosedTransferAborted, "Data connection closed; transfer aborted.")
        case .timedOut:
            reply(.connectionClosedTransferAborted, "Data connection timed out; transfer aborted.")
        case .failed(let error):
            let (code, text) = FTPErrorMapping.reply(for: error)
            logger.error("storage failed during transfer", metadata: ["path": "\(path)", "error": "\(error)"])
            reply(code, text)
        }
    }

    /// Wraps a data connection as PROT asks: TLS under PROT P (no session tickets; the session-reuse
    /// policy checked), plain otherwise. Answers and returns nil when the connection is refused.
    private func protectDataConnection(_ connection: Socket, path: VirtualPath) -> (any ByteStream)? {
        guard dataProtection == .private else { return PlainStream(socket: connection) }
        guard let tlsContext = context.settings.tls?.context else {
            connection.close()
            reply(.tlsNegotiationFailed, "TLS is not available.")
            return nil
        }
        let stream: TLSStream
        do {
            stream = try TLSStream(accepting: connection, context: tlsContext, isDataConnection: true,
                                   timeout: context.settings.tlsHandshakeTimeout)
        } catch {
            logger.warning("data connection TLS handshake failed", metadata: ["error": "\(error)"])
            connection.close()
            reply(.tlsNegotiationFailed, "TLS negotiation on the data connection failed.")
            return nil
        }
        logger.debug("data connection protected", metadata: ["tls": "\(stream.protocolVersion)", "cipher": "\(stream.cipher)",
                                                          "resumed": "\(stream.sessionReused)", "path": "\(path)"])
        if context.settings.tls?.sessionReuse == .required && !stream.sessionReused {
            // As vsftpd does: the handshake completed, the reason goes to the control connection, and
            // the data connection ends with a close_notify, so that the client's TLS layer shuts down
            // cleanly and shows the 522 (a bare TCP close left Python's ssl "in init" and it reported
            // SHUTDOWN_WHILE_IN_INIT instead).
            logger.warning("TLS resume refused", metadata: [
                "path": "\(path)", "policy": "tls_session_reuse = required",
                "reason": "the data connection did not resume the control connection's TLS session"])
            reply(.tlsNegotiationFailed, "Data connection refused: its TLS session must be resumed from the control connection (session reuse required).")
            stream.finish(timeout: 2)
            return nil
        }
        return stream
    }

    // MARK: Downloads

    func handleRETR(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "RETR") else { return }
        let offset = takeRestartOffset()
        let opened: (reader: any ObjectReader, info: FileInfo)
        do {
            opened = try session.openRead(path, from: offset)
        } catch {
            reply(for: error, command: "RETR")
            return
        }
        defer { opened.reader.close() }
        let mode = transferType == .ascii ? "ASCII" : "BINARY"
        runTransfer(.download, path: path,
                    announcement: "Opening \(mode) mode data connection for \(path.name) (\(opened.info.size) bytes).") { (data, moved) throws(FTPTransferFailure) in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.transferBufferSize, alignment: 16)
            defer { buffer.deallocate() }
            var converter = ASCIIConverter()
            var converted: [UInt8] = []
            while true {
                let count: Int
                do throws(StorageError) {
                    count = try opened.reader.read(into: buffer)
                } catch {
                    throw .failed(.storage(error))
                }
                if count == 0 { return }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                if transferType == .ascii {
                    converter.toNetwork(chunk, into: &converted)
                    let outcome: Result<Void, FTPTransferFailure> = converted.withUnsafeBytes { raw in
                        do throws(FTPTransferFailure) { try sendData(raw, over: data, progress: moved); return .success(()) }
                        catch { return .failure(error) }
                    }
                    try outcome.get()
                } else {
                    try sendData(chunk, over: data, progress: moved)
                }
                moved += UInt64(count)
            }
        }
    }

    // MARK: Uploads

    func handleSTOR(_ argument: String) {
        guard let path = resolvePath(argument, command: "STOR") else { return }
        let offset = takeRestartOffset()
        store(path, mode: offset > 0 ? .resume(offset: offset) : .replace, command: "STOR",
              announcement: "Ok to send data.")
    }

    func handleAPPE(_ argument: String) {
        guard let path = resolvePath(argument, command: "APPE") else { return }
        restartOffset = 0
        store(path, mode: .append, command: "APPE", announcement: "Ok to send data.")
    }

    /// STOU (RFC 959 §4.1.3, reply form of RFC 1123 §4.1.2.9): stores under a name that does not exist
    /// yet in the working directory, based on the argument if one is given. The upload creates only
    /// (`UploadMode.create`): a file another client stores under the chosen name before the upload
    /// ends makes it fail, and is never replaced.
    func handleSTOU(_ argument: String) {
        guard let session else { return }
        restartOffset = 0
        var random = SystemRandomNumberGenerator()
        for attempt in 0..<100 {
            let name: String
            if argument.isEmpty {
                name = "ferry-" + String(random.next() & 0xFFFF_FFFF, radix: 16)
            } else {
                name = attempt == 0 ? argument : "\(argument).\(attempt)"
            }
            guard let path = resolvePath(name, command: "STOU") else { return }
            let upload: any ObjectUpload
            do throws(SessionError) {
                upload = try session.beginUpload(path, mode: .create)
            } catch .alreadyExists, .isADirectory {
                continue  // taken
            } catch {
                reply(for: error, command: "STOU")
                return
            }
            receive(into: upload, path: path, announcement: "FILE: \(path.name)",
                    completion: "Transfer complete (unique file name: \(path.name)).")
            return
        }
        reply(.fileNameNotAllowed, "Could not find a unique file name.")
    }

    /// Starts the upload and streams the data connection into it (`receive`).
    private func store(_ path: VirtualPath, mode: UploadMode, command: String, announcement: String) {
        guard let session else { return }
        let upload: any ObjectUpload
        do {
            upload = try session.beginUpload(path, mode: mode)
        } catch {
            reply(for: error, command: command)
            return
        }
        receive(into: upload, path: path, announcement: announcement)
    }

    /// Streams the data connection into an upload; commits only when the client's data ended cleanly.
    private func receive(into upload: any ObjectUpload, path: VirtualPath, announcement: String,
                         completion: String = "Transfer complete.") {
        var committed = false
        defer {
            if !committed {
                upload.abort()
                logger.info("upload aborted, nothing published", metadata: ["path": "\(path)"])
            }
        }
        runTransfer(.upload, path: path, announcement: announcement, completion: completion) { (data, moved) throws(FTPTransferFailure) in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.transferBufferSize, alignment: 16)
            defer { buffer.deallocate() }
            var converter = ASCIIConverter()
            var converted: [UInt8] = []
            while true {
                let count = try receiveData(into: buffer, from: data, progress: moved)
                if count == 0 {
                    try confirmClientAwaitsReply(progress: moved)
                    break
                }
                moved += UInt64(count)
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                do throws(StorageError) {
                    if transferType == .ascii {
                        converter.fromNetwork(chunk, into: &converted)
                        try upload.write(converted)
                    } else {
                        try upload.write(chunk)
                    }
                } catch {
                    throw FTPTransferFailure.failed(.storage(error))
                }
            }
            let tail = converter.finishFromNetwork()
            do throws(StorageError) {
                if !tail.isEmpty { try upload.write(tail) }
                try upload.commit()
            } catch {
                throw FTPTransferFailure.failed(.storage(error))
            }
            committed = true
        }
    }
}
