import Foundation
import Logging
import Storage

/// A legacy scp transfer (the rcp protocol OpenSSH's scp spoke before it switched to SFTP), run
/// over an SSH exec channel through the same `Session` and permission gate as SFTP and FTP.
///
/// Protocol: each side answers every control line with one status byte — 0 OK, 1 a warning
/// followed by a message line (that file is skipped), 2 a fatal error with a message line.
/// Control lines: `C<mode> <size> <name>` (a file; its bytes and a status byte follow),
/// `D<mode> 0 <name>` / `E` (enter / leave a directory, with -r), `T<mtime> 0 <atime> 0` (times, -p).
final class SCPSession {
    enum Status: UInt8 {
        case ok = 0
        case warning = 1
        case fatal = 2
    }

    /// Why a transfer stops altogether (a warning only skips one file).
    enum Stop: Error {
        case clientFatal(String)
        case protocolError(String)
        case channel(String)
        /// A configuration reload removed the user: the file under way was finished, no other starts.
        case userRemoved
    }

    /// Called before each file or directory: applies a reload's changes to the user, and ends the
    /// transfer (with a fatal status the client shows) if the user was removed.
    func checkUserStanding() throws(Stop) {
        guard session.refreshUser() == .removed else { return }
        try? sendError(.fatal, "your account was removed from this server")
        throw .userRemoved
    }

    let command: SCPCommand
    let session: Session
    let channel: any ChannelIO
    let reader: SCPChannelReader
    let logger: Logger
    let observer: (any SessionObserver)?
    let remoteHost: String
    /// Set once any file failed: the exit status is then 1, as OpenSSH's scp reports it.
    var hadErrors = false

    init(command: SCPCommand, session: Session, channel: any ChannelIO, idleTimeout: TimeInterval, logger: Logger,
         observer: (any SessionObserver)?, remoteHost: String) {
        self.command = command
        self.session = session
        self.channel = channel
        self.reader = SCPChannelReader(channel: channel, idleTimeout: idleTimeout)
        self.logger = logger
        self.observer = observer
        self.remoteHost = remoteHost
    }

    /// Runs the transfer; returns the exit status for the client (0 = every file transferred).
    func run() -> Int32 {
        logger.info("scp transfer", metadata: ["direction": "\(command.direction == .toServer ? "upload" : "download")",
                                               "paths": "\(command.paths)", "recursive": "\(command.recursive)"])
        do {
            switch command.direction {
            case .toServer: try receiveFiles()
            case .fromServer: try sendFiles()
            }
        } catch {
            hadErrors = true
            logger.info("scp transfer ended", metadata: ["reason": "\(error)"])
        }
        return hadErrors ? 1 : 0
    }

    // MARK: Status bytes and messages

    func send(_ bytes: [UInt8]) throws(Stop) {
        do {
            try channel.write(bytes)
        } catch {
            throw .channel(error.description)
        }
    }

    func sendOK() throws(Stop) { try send([Status.ok.rawValue]) }

    /// A message the client prints (as OpenSSH's scp does: "scp: PATH: reason").
    func sendError(_ status: Status, _ text: String) throws(Stop) {
        hadErrors = true
        let line = text.replacingOccurrences(of: "\n", with: " ")
        try send([status.rawValue] + Array("scp: \(line)\n".utf8))
    }

    /// The short reason for a session error, as SFTP states it (shared wording, one mapping).
    func reason(_ error: SessionError) -> String {
        logger.info("scp: refused", metadata: ["reason": "\(error)"])
        return SFTPErrorMapping.status(for: error).1
    }

    /// Reads the client's status byte; a warning's message is logged and reported as false.
    func response() throws(Stop) -> Bool {
        guard let byte = try readByte() else { throw .channel("the client closed the channel") }
        switch Status(rawValue: byte) {
        case .ok:
            return true
        case .warning:
            let message = try messageLine()
            logger.info("scp client warning", metadata: ["message": "\(message)"])
            hadErrors = true
            return false
        case .fatal:
            throw .clientFatal(try messageLine())
        case nil:
            throw .protocolError("unexpected status byte \(byte)")
        }
    }

    func readByte() throws(Stop) -> UInt8? {
        do {
            return try reader.byte()
        } catch {
            throw .channel("\(error)")
        }
    }

    func readLine() throws(Stop) -> [UInt8]? {
        do {
            return try reader.line()
        } catch {
            throw .channel("\(error)")
        }
    }

    private func messageLine() throws(Stop) -> String {
        String(decoding: try readLine() ?? [], as: UTF8.self)
    }

    func record(_ path: VirtualPath, _ direction: TransferRecord.Direction, bytes: UInt64, started: Date, outcome: TransferOutcome) {
        reporter.finished(path, direction, bytes: bytes, started: started, outcome: outcome)
    }

    var reporter: TransferReporter {
        TransferReporter(service: .scp, user: session.user.name, remoteHost: remoteHost, observer: observer, logger: logger)
    }
}
