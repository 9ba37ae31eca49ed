#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A connected byte stream over a socket: plain TCP, or TLS on top of it. Reads and writes never
/// block; callers wait with `poll` on `socket` for the events `wantedEvents` names, and must first
/// consume `hasBufferedInput` (TLS may hold decrypted bytes the kernel no longer shows).
public protocol ByteStream: AnyObject {
    var socket: Socket { get }
    /// Decrypted bytes are waiting (poll on the socket would not report them).
    var hasBufferedInput: Bool { get }
    /// Reads what is available: nil = nothing yet (wait), 0 = the peer ended the stream cleanly (for
    /// TLS: it sent close_notify). Throws when the stream broke.
    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int?
    /// Writes what fits now; 0 = nothing fitted (wait for `wantedEvents`).
    func writeAvailable(_ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int
    /// The poll events that let the last would-block operation progress (TLS may need to write to read).
    var wantedEvents: Int16 { get }
    /// Ends the stream cleanly (TLS: sends close_notify), then closes the socket.
    func finish(timeout: TimeInterval)
    func close()
}

public extension ByteStream {
    /// Waits up to `timeout` until a read can make progress.
    func waitReadable(timeout: TimeInterval?) throws(SocketError) -> Bool {
        if hasBufferedInput { return true }
        return try socket.poll(wantedEvents | Int16(POLLIN), timeout: timeout)
    }

    /// Writes every byte, waiting up to `timeout` each time nothing fits.
    func writeAll(_ bytes: UnsafeRawBufferPointer, timeout: TimeInterval?) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let written = try writeAvailable(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += written
            if written == 0, try !socket.poll(wantedEvents, timeout: timeout) { throw .timedOut }
        }
    }

    func writeAll(_ bytes: [UInt8], timeout: TimeInterval?) throws(SocketError) {
        let outcome: Result<Void, SocketError> = bytes.withUnsafeBytes { raw in
            do throws(SocketError) { try writeAll(raw, timeout: timeout); return .success(()) } catch { return .failure(error) }
        }
        try outcome.get()
    }
}

/// Plain TCP.
public final class PlainStream: ByteStream {
    public let socket: Socket
    public init(socket: Socket) {
        self.socket = socket
        socket.setNonBlocking()
    }

    public var hasBufferedInput: Bool { false }
    public var wantedEvents: Int16 { lastWanted }
    private var lastWanted = Int16(POLLIN)

    public func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        lastWanted = Int16(POLLIN)
        return try socket.receiveNonBlocking(into: buffer)
    }

    public func writeAvailable(_ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        lastWanted = Int16(POLLOUT)
        return try socket.sendAvailable(bytes)
    }

    public func finish(timeout: TimeInterval) { socket.close() }
    public func close() { socket.close() }
}

extension Socket {
    public func setNonBlocking() {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
    }

    /// recv without waiting: nil when nothing is there yet, 0 at end of stream.
    public func receiveNonBlocking(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        while true {
            let n = recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            if errno == ECONNRESET { throw .closed }
            throw .system(call: "recv", code: errno)
        }
    }
}
