import Foundation
import Logging
import Storage

/// Why a request failed: a session error (mapped once by `SFTPErrorMapping`) or a status the
/// engine decides itself (bad handle, unsupported operation, upload out of window…).
enum SFTPFailure: Error {
    case session(SessionError)
    case status(SFTPStatusCode, String)

    var status: (SFTPStatusCode, String) {
        switch self {
        case .session(let error): SFTPErrorMapping.status(for: error)
        case .status(let code, let message): (code, message)
        }
    }
}

/// Ends the SFTP session (the SSH layer closes the channel): the byte stream cannot be trusted any
/// more, so there is no request to reply to.
public enum SFTPSessionEnd: Error, CustomStringConvertible {
    case framing(String)

    public var description: String {
        switch self {
        case .framing(let reason): "SFTP framing error: \(reason)"
        }
    }
}

/// What the engine needs besides the session: limits, observers, where the client is.
struct SFTPEngineEnvironment {
    var settings: SFTPSettings
    var logger: Logger
    var observer: (any SessionObserver)?
    var remoteHost: String
}

/// The SFTP v3 server (draft-ietf-secsh-filexfer-02) over one logged-in `Session`, independent of
/// SSH: packets in, replies out. Every request id gets exactly one reply from `reply(to:)`;
/// requests before INIT are refused; file semantics and permissions come from the session.
///
/// Owned by one connection thread.
final class SFTPEngine {
    let session: Session
    let environment: SFTPEngineEnvironment
    var handles: SFTPHandleTable
    private(set) var initialized = false
    /// A configuration reload removed the user (see `Session.refreshUser`).
    private(set) var userRemoved = false

    var settings: SFTPSettings { environment.settings }
    var logger: Logger { environment.logger }

    init(session: Session, environment: SFTPEngineEnvironment) {
        self.session = session
        self.environment = environment
        self.handles = SFTPHandleTable(capacity: environment.settings.maxOpenHandles)
    }

    /// Handles one packet (type byte onwards) and returns the reply to send.
    func respond(to packet: [UInt8]) -> SFTPReply { respond(to: packet[...]) }

    /// Handles one packet (a view into the receive buffer, not kept after the call).
    func respond(to packet: ArraySlice<UInt8>) -> SFTPReply {
        let request: SFTPRequest
        do {
            request = try SFTPRequest.decode(packet)
        } catch {
            return reply(toUndecodable: packet, error)
        }
        if case .initialize(let version) = request {
            return initialize(clientVersion: version)
        }
        guard initialized, let id = request.id else {
            logger.info("SFTP request before INIT refused")
            return .status(id: request.id ?? 0, code: .failure, message: "SSH_FXP_INIT must come first")
        }
        return reply(to: request, id: id)
    }

    /// The single place a request becomes its reply: a failure of any kind is a STATUS for its id.
    private func reply(to request: SFTPRequest, id: UInt32) -> SFTPReply {
        if userRemoved || session.refreshUser() == .removed {
            userRemoved = true
            // Transfers under way finish (their handles go on); nothing new starts. The server loop
            // ends the session once no handle is open.
            if !request.continuesOpenHandle {
                return .status(id: id, code: .permissionDenied, message: "Your account was removed from this server")
            }
        }
        do {
            return try perform(request)
        } catch {
            let (code, message) = error.status
            var metadata: Logger.Metadata = ["id": "\(id)", "request": "\(request.typeName)", "status": "\(code)", "reason": "\(error)"]
            if let path = request.pathForLog { metadata["path"] = "\(path)" }
            logger.debug("SFTP request failed", metadata: metadata)
            return .status(id: id, code: code, message: message)
        }
    }

    /// A packet that does not parse: BAD_MESSAGE for its id when the id is readable (an unknown
    /// type is OP_UNSUPPORTED, as OpenSSH answers it).
    private func reply(toUndecodable packet: ArraySlice<UInt8>, _ error: SFTPDecodeError) -> SFTPReply {
        let first = packet.startIndex
        let id: UInt32 = packet.count >= 5 ? packet[first + 1..<first + 5].reduce(0) { $0 << 8 | UInt32($1) } : 0
        logger.info("malformed SFTP request", metadata: ["id": "\(id)", "reason": "\(error)"])
        if case .unknownType = error {
            return .status(id: id, code: .operationUnsupported, message: "Unknown request type")
        }
        return .status(id: id, code: .badMessage, message: "Malformed request")
    }

    private func initialize(clientVersion: UInt32) -> SFTPReply {
        initialized = true
        logger.debug("SFTP INIT", metadata: ["client_version": "\(clientVersion)"])
        return .version(extensions: SFTPExtension.advertised)
    }

    /// The request table: one arm per request type, each naming the handler that serves it. (An
    /// exhaustive switch rather than a dictionary: a new request type does not compile until it has
    /// a handler.)
    private func perform(_ request: SFTPRequest) throws(SFTPFailure) -> SFTPReply {
        switch request {
        case .initialize:
            throw .status(.badMessage, "Duplicate SSH_FXP_INIT")
        case .open(let id, let path, let flags, let attributes):
            return .handle(id: id, handle: try open(try resolve(path), flags: flags, attributes: attributes))
        case .close(let id, let handle):
            try close(handle)
            return .ok(id)
        case .read(let id, let handle, let offset, let length):
            return try read(id: id, handle, offset: offset, length: length)
        case .write(let id, let handle, let offset, let data):
            try write(handle, offset: offset, data: data)
            return .ok(id)
        case .stat(let id, let path), .lstat(let id, let path):
            let target = try resolve(path)
            return .attributes(id: id, attributes: SFTPAttributes(try sessionCall { () throws(SessionError) in
                try session.stat(target)
            }))
        case .fstat(let id, let handle):
            return .attributes(id: id, attributes: try fstat(handle))
        case .setstat(let id, let path, let attributes):
            try setstat(try resolve(path), attributes)
            return .ok(id)
        case .fsetstat(let id, let handle, let attributes):
            try fsetstat(handle, attributes)
            return .ok(id)
        case .opendir(let id, let path):
            return .handle(id: id, handle: try opendir(try resolve(path)))
        case .readdir(let id, let handle):
            return try readdir(id: id, handle)
        case .remove(let id, let path):
            let target = try resolve(path)
            try sessionCall { () throws(SessionError) in try session.deleteFile(target) }
            return .ok(id)
        case .mkdir(let id, let path, _):
            let target = try resolve(path)
            try sessionCall { () throws(SessionError) in try session.makeDirectory(target) }
            return .ok(id)
        case .rmdir(let id, let path):
            let target = try resolve(path)
            try sessionCall { () throws(SessionError) in try session.removeDirectory(target) }
            return .ok(id)
        case .realpath(let id, let path):
            let resolved = try resolve(path)
            return .name(id: id, entries: [SFTPNameEntry(filename: Array(resolved.description.utf8),
                                                         longname: resolved.description, attributes: .empty)])
        case .rename(let id, let from, let to):
            // draft-02 §6.5: RENAME never replaces an existing file (posix-rename@openssh.com does).
            let source = try resolve(from), target = try resolve(to)
            try sessionCall { () throws(SessionError) in try session.rename(source, to: target, replacing: false) }
            return .ok(id)
        case .readlink, .symlink:
            throw .status(.operationUnsupported, "Object storage has no symbolic links")
        case .extended(let id, let name, let payload):
            return try extended(id: id, name: name, payload: payload)
        }
    }

    // MARK: Helpers shared by the handlers

    /// Client paths are bytes relative to the home (`/`); `VirtualPath` is the one normaliser.
    func resolve(_ bytes: [UInt8]) throws(SFTPFailure) -> VirtualPath {
        do {
            return try VirtualPath.resolve(bytes: bytes, from: .root)
        } catch {
            throw .session(.invalidPath(error))
        }
    }

    func sessionCall<T>(_ body: () throws(SessionError) -> T) throws(SFTPFailure) -> T {
        do {
            return try body()
        } catch {
            throw .session(error)
        }
    }

    /// Ends the session's work: uploads not closed are aborted (nothing half-written is published),
    /// downloads released.
    func closeAll() {
        for item in handles.all {
            switch item {
            case .file(let file):
                file.close()
                record(file, .aborted)
            case .upload(let upload):
                if upload.upload != nil {
                    logger.warning("upload aborted: the session ended before CLOSE", metadata: ["path": "\(upload.path)"])
                }
                upload.abort()
                record(upload, .aborted)
            case .directory:
                break
            }
        }
        handles.removeAll()
    }

    func record(_ file: SFTPReadHandle, _ outcome: TransferOutcome) {
        finish(path: file.path, direction: .download, bytes: file.bytesSent, started: file.opened, outcome: outcome,
               extra: ["repositions": "\(file.repositions)"])
    }

    func record(_ upload: SFTPWriteHandle, _ outcome: TransferOutcome) {
        finish(path: upload.path, direction: .upload, bytes: upload.bytesReceived, started: upload.opened,
               outcome: outcome, extra: [:])
    }

    private func finish(path: VirtualPath, direction: TransferRecord.Direction, bytes: UInt64, started: Date,
                        outcome: TransferOutcome, extra: Logger.Metadata) {
        reporter.finished(path, direction, bytes: bytes, started: started, outcome: outcome, details: extra)
    }

    var reporter: TransferReporter {
        TransferReporter(service: .sftp, user: session.user.name, remoteHost: environment.remoteHost,
                         observer: environment.observer, logger: logger)
    }
}

extension SFTPReply {
    static func ok(_ id: UInt32) -> SFTPReply { .status(id: id, code: .ok, message: "OK") }
}
