#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A failed socket call; `call` and `code` are for the log.
public enum SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    case system(call: String, code: Int32)
    case timedOut
    case closed
    /// A TLS failure (handshake, a broken record, a close without close_notify); the detail is OpenSSL's.
    case tls(String)

    public var description: String {
        switch self {
        case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
        case .timedOut: "timed out"
        case .closed: "connection closed"
        case .tls(let detail): "TLS: \(detail)"
        }
    }
}

/// A TCP socket in blocking mode, owned by one thread at a time. Every system call goes through here:
/// EINTR is retried, errors become `SocketError` where they happen, and every wait has a timeout.
///
/// `@unchecked Sendable`: a socket is handed from the accepting thread to its connection thread once,
/// and only that thread uses it afterwards.
public final class Socket: @unchecked Sendable {
    public private(set) var descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    public func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    /// Hands the descriptor to a new owner (a C library that will close it); this object forgets it.
    public func releaseDescriptor() -> Int32 {
        defer { descriptor = -1 }
        return descriptor
    }

    private static func check(_ call: String, _ body: () -> Int32) throws(SocketError) -> Int32 {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            if errno == EINTR { continue }
            throw .system(call: call, code: errno)
        }
    }

    private static func newSocket(_ family: SocketAddress.Family) throws(SocketError) -> Socket {
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        let fd = try check("socket") { Glibc.socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        return Socket(descriptor: fd)
    }

    // MARK: Listening

    /// A listening socket on `address` (port 0 = any free port).
    public static func listen(on address: SocketAddress, backlog: Int32 = 128) throws(SocketError) -> Socket {
        let socket = try newSocket(address.family)
        try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        if address.family == .ipv6 { try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
        _ = try check("bind \(address)") { address.withSockaddr { Glibc.bind(socket.descriptor, $0, $1) } }
        _ = try check("listen") { Glibc.listen(socket.descriptor, backlog) }
        return socket
    }

    /// A listening socket on `host` at a free port of `range`, tried in random order (passive mode).
    public static func listen(on host: SocketAddress, portIn range: ClosedRange<UInt16>) throws(SocketError) -> Socket {
        var candidates = Array(range)
        candidates.shuffle()
        var lastError = SocketError.system(call: "bind", code: EADDRINUSE)
        for port in candidates.prefix(100) {
            do {
                let socket = try newSocket(host.family)
                try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)  // earlier data connections may sit in TIME_WAIT
                _ = try check("bind \(host.withPort(port))") { host.withPort(port).withSockaddr { Glibc.bind(socket.descriptor, $0, $1) } }
                _ = try check("listen") { Glibc.listen(socket.descriptor, 4) }
                return socket
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Waits up to `timeout` for a connection; nil on timeout.
    public func accept(timeout: TimeInterval?) throws(SocketError) -> Socket? {
        if let timeout, try !waitReadable(timeout: timeout) { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = try Self.check("accept") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(descriptor, $0, &length) }
            }
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return Socket(descriptor: fd)
    }

    // MARK: Connecting

    /// Connects to `address` within `timeout`, optionally from a local address.
    public static func connect(to address: SocketAddress, from local: SocketAddress? = nil, timeout: TimeInterval) throws(SocketError) -> Socket {
        let socket = try newSocket(address.family)
        if let local {
            try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
            _ = try check("bind \(local)") { local.withSockaddr { Glibc.bind(socket.descriptor, $0, $1) } }
        }
        let flags = fcntl(socket.descriptor, F_GETFL)
        _ = fcntl(socket.descriptor, F_SETFL, flags | O_NONBLOCK)
        let rc = address.withSockaddr { Glibc.connect(socket.descriptor, $0, $1) }
        if rc != 0 {
            guard errno == EINPROGRESS || errno == EINTR else { throw .system(call: "connect \(address)", code: errno) }
            guard try socket.poll(Int16(POLLOUT), timeout: timeout) else { throw .timedOut }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 { throw .system(call: "connect \(address)", code: error) }
        }
        _ = fcntl(socket.descriptor, F_SETFL, flags)
        return socket
    }

    // MARK: Options and addresses

    public func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws(SocketError) {
        var value = value
        _ = try Self.check("setsockopt") { setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }

    public var localAddress: SocketAddress? { address(getsockname) }
    public var remoteAddress: SocketAddress? { address(getpeername) }

    private func address(_ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, &length) }
        }
        return rc == 0 ? SocketAddress(storage: storage) : nil
    }

    // MARK: Waiting, reading, writing

    /// Waits for `events` up to `timeout` seconds (nil = forever). Returns false on timeout.
    public func poll(_ events: Int16, timeout: TimeInterval?) throws(SocketError) -> Bool {
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        let milliseconds = timeout.map { Int32(min(max($0, 0) * 1000, Double(Int32.max))) } ?? -1
        let rc = try Self.check("poll") { Glibc.poll(&entry, 1, milliseconds) }
        return rc > 0
    }

    public func waitReadable(timeout: TimeInterval?) throws(SocketError) -> Bool {
        try poll(Int16(POLLIN), timeout: timeout)
    }

    /// Reads what is available (at least one byte, waiting up to `timeout`); 0 means the peer closed.
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: TimeInterval?) throws(SocketError) -> Int {
        guard try waitReadable(timeout: timeout) else { throw .timedOut }
        return try readAvailable(into: buffer)
    }

    /// Reads without waiting first (after poll said readable).
    public func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        while true {
            let n = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == ECONNRESET { throw .closed }
            throw .system(call: "recv", code: errno)
        }
    }

    /// Writes every byte, waiting up to `timeout` each time the peer is not reading.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, timeout: TimeInterval?) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            guard try poll(Int16(POLLOUT), timeout: timeout) else { throw .timedOut }
            let n = send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == EPIPE || errno == ECONNRESET { throw .closed }
                throw .system(call: "send", code: errno)
            }
            offset += n
        }
    }

    public func writeAll(_ bytes: [UInt8], timeout: TimeInterval?) throws(SocketError) {
        let outcome: Result<Void, SocketError> = bytes.withUnsafeBytes { raw in
            do throws(SocketError) { try writeAll(raw, timeout: timeout); return .success(()) } catch { return .failure(error) }
        }
        try outcome.get()
    }
}

extension Socket {
    /// Waits for several sockets at once; returns each one's `revents` (0 = nothing happened).
    public static func poll(_ entries: [(socket: Socket, events: Int16)], timeout: TimeInterval?) throws(SocketError) -> [Int16] {
        var fds = entries.map { pollfd(fd: $0.socket.descriptor, events: $0.events, revents: 0) }
        let milliseconds = timeout.map { Int32(min(max($0, 0) * 1000, Double(Int32.max))) } ?? -1
        while true {
            let rc = Glibc.poll(&fds, nfds_t(fds.count), milliseconds)
            if rc >= 0 { return fds.map { $0.revents } }
            if errno == EINTR { continue }
            throw .system(call: "poll", code: errno)
        }
    }

    /// Sends what the kernel takes now without blocking; returns the byte count (0 if none fits).
    public func sendAvailable(_ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        while true {
            let n = send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            if errno == EPIPE || errno == ECONNRESET { throw .closed }
            throw .system(call: "send", code: errno)
        }
    }

    public static let readableEvents = Int16(POLLIN)
}
