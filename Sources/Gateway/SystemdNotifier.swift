#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// systemd's service notification protocol (sd_notify(3), `Type=notify` / `Type=notify-reload`):
/// one datagram of `KEY=value` lines to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or
/// an abstract name written with a leading `@`). Without the variable every call does nothing, so
/// Ferry runs the same outside systemd. Messages are best effort: a failure is ignored, as
/// libsystemd's own sd_notify callers do.
struct SystemdNotifier: Sendable {
    /// The socket's address bytes; nil when not under systemd (or the variable is unusable).
    private let address: [UInt8]?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@") else {
            address = nil
            return
        }
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        address = bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) ? bytes : nil
    }

    var isActive: Bool { address != nil }

    /// The service is up (listeners open): `READY=1`.
    func ready(status: String) { send(["READY=1", "STATUS=\(status)"]) }

    /// A reload begins: `RELOADING=1` with the monotonic time `Type=notify-reload` asks for.
    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(microseconds)", "STATUS=reloading the configuration"])
    }

    /// The stop began (draining): `STOPPING=1`.
    func stopping(status: String) { send(["STOPPING=1", "STATUS=\(status)"]) }

    func status(_ text: String) { send(["STATUS=\(text)"]) }

    func send(_ lines: [String]) {
        guard let address else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &target.sun_path) { $0.copyBytes(from: address) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        let message = Array(lines.joined(separator: "\n").utf8)
        _ = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length) }
            }
        }
    }
}
