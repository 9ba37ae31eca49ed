internal import CLibSSH
import Foundation

/// What a session channel runs (RFC 4254 §6.5), chosen by its first subsystem, exec or shell
/// request.
enum SSHService {
    case sftp
    /// A legacy scp transfer (`scp -t`/`scp -f`).
    case scp(SCPCommand)
    /// `md5sum`, `sha1sum` or `sha256sum` as rclone's sftp backend runs them.
    case checksum(SSHChecksumCommand)
    /// Any other command, or a shell: answered on the channel with a message and a failing exit
    /// status, as OpenSSH answers them under `ForceCommand internal-sftp`.
    case unavailable(request: String, detail: String)

    /// The service an exec request's command line asks for.
    static func exec(_ command: String) -> SSHService {
        if let scp = SCPCommand.parse(command) { return .scp(scp) }
        if let checksum = SSHChecksumCommand.parse(command) { return .checksum(checksum) }
        return .unavailable(request: "exec", detail: command)
    }
}

/// Who serves a connection's channels: told when a channel's service was chosen (lock held).
protocol SSHChannelHost: AnyObject {
    func start(_ channel: SSHSessionChannel)
    func refused(_ request: String, detail: String)
}

/// One session channel of a connection and libssh's callbacks for its requests. Callbacks are plain
/// C functions (no captures, design.md §2) that find this object through `userdata`; libssh calls
/// them under the transport's lock, from whichever thread is handling packets. The connection keeps
/// this object until `release()` has detached the callbacks. Its state changes only under that lock
/// (hence `@unchecked Sendable`: the channel's thread reads `service` after the callback set it).
final class SSHSessionChannel: @unchecked Sendable {
    let channel: OpaquePointer
    /// The channel's number in this connection, for the log.
    let number: Int
    private(set) var service: SSHService?
    private unowned let host: any SSHChannelHost
    private let callbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)
    private var released = false

    private static let accepted: Int32 = 0
    private static let refused: Int32 = -1

    init(channel: OpaquePointer, number: Int, host: any SSHChannelHost) {
        self.channel = channel
        self.number = number
        self.host = host
        callbacks.initialize(to: ssh_channel_callbacks_struct())
        callbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        callbacks.pointee.userdata = Unmanaged.passUnretained(self).toOpaque()
        callbacks.pointee.channel_subsystem_request_function = { _, _, subsystem, userdata in
            let name = subsystem.map { String(cString: $0) } ?? ""
            return SSHSessionChannel.from(userdata).choose(name == "sftp" ? .sftp : .unavailable(request: "subsystem", detail: name))
        }
        callbacks.pointee.channel_exec_request_function = { _, _, command, userdata in
            SSHSessionChannel.from(userdata).choose(.exec(command.map { String(cString: $0) } ?? ""))
        }
        callbacks.pointee.channel_shell_request_function = { _, _, userdata in
            SSHSessionChannel.from(userdata).choose(.unavailable(request: "shell", detail: ""))
        }
        // No terminal: a client asking for one goes on without it (OpenSSH's ssh prints a warning).
        callbacks.pointee.channel_pty_request_function = { _, _, _, _, _, _, _, userdata in
            SSHSessionChannel.from(userdata).host.refused("pty", detail: "")
            return SSHSessionChannel.refused
        }
        ssh_set_channel_callbacks(channel, callbacks)
    }

    deinit {
        callbacks.deallocate()
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> SSHSessionChannel {
        Unmanaged<SSHSessionChannel>.fromOpaque(userdata!).takeUnretainedValue()
    }

    /// The first subsystem, exec or shell request decides; a second one on the same channel is
    /// refused (RFC 4254 §6.5: one per channel). A subsystem other than `sftp` is refused outright:
    /// there is no output for an SFTP-speaking client to show.
    private func choose(_ requested: SSHService) -> Int32 {
        guard service == nil else {
            host.refused("second service on one channel", detail: "")
            return Self.refused
        }
        if case .unavailable(let request, let detail) = requested, request == "subsystem" {
            host.refused(request, detail: detail)
            return Self.refused
        }
        service = requested
        host.start(self)
        return Self.accepted
    }

    /// Whether the client has closed the channel (checked for channels that never got a service).
    var isClosed: Bool { ssh_channel_is_closed(channel) != 0 }

    /// Lock held: detaches the callbacks and hands the channel back to libssh, which frees it once
    /// both sides have closed it (a client's late packets for it then find no callbacks of ours).
    func release() {
        guard !released else { return }
        released = true
        ssh_remove_channel_callbacks(channel, callbacks)
        ssh_channel_free(channel)
    }
}
