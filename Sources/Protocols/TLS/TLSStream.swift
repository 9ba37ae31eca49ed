#if canImport(Glibc)
import Glibc
#endif
internal import COpenSSL
internal import COpenSSLShims
import Foundation

/// TLS over a non-blocking socket (RFC 4217 control and data connections). The only place that calls
/// SSL_accept/SSL_read/SSL_write. Owned by one connection thread.
public final class TLSStream: ByteStream {
    public let socket: Socket
    private let ssl: OpaquePointer
    private var want = Int16(POLLIN)
    private var closed = false

    /// Runs the server handshake within `timeout`. Data connections get no session tickets: a TLS 1.3
    /// ticket the uploading client never reads makes the kernel reset the connection and truncate the
    /// upload (design.md §3).
    public init(accepting socket: Socket, context: TLSContext, isDataConnection: Bool, timeout: TimeInterval) throws(SocketError) {
        guard let ssl = SSL_new(context.context) else { throw .tls(TLSError.drain("SSL_new").description) }
        self.ssl = ssl
        self.socket = socket
        socket.setNonBlocking()
        // (On a throw from here on, deinit frees `ssl`: every stored property is set.)
        guard SSL_set_fd(ssl, socket.descriptor) == 1 else {
            throw .tls(TLSError.drain("SSL_set_fd").description)
        }
        // Fail closed: a data connection that would send tickets could truncate uploads (see above).
        if isDataConnection && SSL_set_num_tickets(ssl, 0) != 1 {
            throw .tls(TLSError.drain("SSL_set_num_tickets").description)
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            ERR_clear_error()
            let rc = SSL_accept(ssl)
            if rc == 1 { break }
            guard noteWouldBlock(SSL_get_error(ssl, rc)) else { throw .tls(TLSError.drain("handshake").description) }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, try socket.poll(want, timeout: remaining) else { throw .timedOut }
        }
        want = Int16(POLLIN)
    }

    deinit {
        SSL_free(ssl)
    }

    /// The client resumed a cached session (for data connections: the control connection's).
    public var sessionReused: Bool { SSL_session_reused(ssl) == 1 }
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    public var cipher: String {
        guard let name = ferry_ssl_cipher_name(ssl) else { return "?" }
        return String(cString: name)
    }

    public var hasBufferedInput: Bool { SSL_pending(ssl) > 0 }
    public var wantedEvents: Int16 { want }

    public func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if n > 0 { return Int(n) }
        let error = SSL_get_error(ssl, n)
        if noteWouldBlock(error) { return nil }
        if error == SSL_ERROR_ZERO_RETURN { return 0 }  // close_notify: a clean end
        // Includes a TCP close without close_notify: the stream may be truncated.
        throw .tls(TLSError.drain("read").description)
    }

    public func writeAvailable(_ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        guard bytes.count > 0 else { return 0 }
        ERR_clear_error()
        let n = SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
        if n > 0 { return Int(n) }
        if noteWouldBlock(SSL_get_error(ssl, n)) { return 0 }
        throw .tls(TLSError.drain("write").description)
    }

    /// Records which socket event a would-block operation waits for; false for real errors.
    private func noteWouldBlock(_ error: Int32) -> Bool {
        switch error {
        case SSL_ERROR_WANT_READ: want = Int16(POLLIN)
        case SSL_ERROR_WANT_WRITE: want = Int16(POLLOUT)
        default: return false
        }
        return true
    }

    /// Sends close_notify (waiting up to `timeout` for it to leave), then closes the socket.
    public func finish(timeout: TimeInterval) {
        guard !closed else { return }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            ERR_clear_error()
            let rc = SSL_shutdown(ssl)
            if rc >= 0 { break }  // 0: our close_notify is sent; we do not wait for the peer's
            let error = SSL_get_error(ssl, rc)
            let events: Int16 = error == SSL_ERROR_WANT_READ ? Int16(POLLIN) : error == SSL_ERROR_WANT_WRITE ? Int16(POLLOUT) : 0
            let remaining = deadline.timeIntervalSinceNow
            guard events != 0, remaining > 0, (try? socket.poll(events, timeout: remaining)) == true else { break }
        }
        close()
    }

    public func close() {
        closed = true
        socket.close()
    }
}
