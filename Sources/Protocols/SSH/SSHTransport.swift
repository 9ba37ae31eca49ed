internal import CLibSSH
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One SSH connection's libssh session, shared by the threads that serve its channels (issue 13,
/// part 5). libssh lets one thread at a time use a session and its channels (its
/// `doc/threading.dox`), so after login every libssh call runs holding this transport's lock, with
/// the session non-blocking. A thread that has to wait (for a channel's data, for the client's
/// window, for the socket to take buffered output) waits without the lock: on the condition, which
/// every thread that handled incoming packets broadcasts, or on the socket with `poll(2)`.
///
/// Whoever waits for input first polls the socket itself (`awaitIncoming`: one poller at a time,
/// the others wait on the condition), so that a single busy channel reads its own data without a
/// hand-off to another thread; the connection's thread takes the role when no channel waits.
///
/// Incoming data cannot pile up without bound while its channel's thread is busy: the client may
/// send at most the channel's window (libssh's 1.25 MB), which grows only as that thread reads.
final class SSHTransport: @unchecked Sendable {
    let session: OpaquePointer
    private let condition = NSCondition()
    private let descriptor: Int32
    /// The libssh event the session is polled through once logged in (set by the connection).
    var event: OpaquePointer?
    /// Guarded by the lock: a thread is in `poll(2)` on the socket for incoming data.
    private var pollerActive = false

    init(session: OpaquePointer) {
        self.session = session
        self.descriptor = ssh_get_fd(session)
    }

    func lock() { condition.lock() }
    func unlock() { condition.unlock() }

    /// Runs `body` holding the session.
    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// Lock held: tells waiting threads that packets were handled (data, window, a close may be
    /// theirs).
    func packetsHandled() { condition.broadcast() }

    /// Whether the socket holds bytes not read yet (FIONREAD): a non-blocking libssh call made now
    /// will handle packets, which may be other channels' (libssh handles every complete packet it
    /// reads, so nothing complete waits inside it otherwise).
    var socketHasInput: Bool {
        var count: Int32 = 0
        return ioctl(descriptor, UInt(FIONREAD), &count) == 0 && count > 0
    }

    /// Lock held: waits until another thread handled packets, or `deadline`.
    func waitForPackets(until deadline: Date) { _ = condition.wait(until: deadline) }

    /// Lock held: waits for incoming packets until `deadline` (at most `pollSlice`): polls the socket
    /// and handles what came when no other thread is doing so, else waits for that thread's
    /// broadcast. False once the connection is gone.
    @discardableResult
    func awaitIncoming(until deadline: Date) -> Bool {
        let now = Date()
        let until = min(deadline, now.addingTimeInterval(Self.pollSlice))
        guard let event, !pollerActive else {
            waitForPackets(until: until)
            return isConnected
        }
        pollerActive = true
        awaitSocket(writable: false, milliseconds: Int32(max(0, until.timeIntervalSince(now)) * 1000))
        pollerActive = false
        return handleIncoming(event)
    }

    static let pollSlice: TimeInterval = 0.2

    /// Lock held: releases it while the socket is not readable (or, with `writable`, not
    /// writable), up to `milliseconds`.
    func awaitSocket(writable: Bool, milliseconds: Int32) {
        condition.unlock()
        defer { condition.lock() }
        var entry = pollfd(fd: descriptor, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        _ = poll(&entry, 1, milliseconds)
    }

    /// Lock held: hands everything libssh buffered for the client to the socket, waiting (without
    /// the lock) while the socket is full, so that output stays bounded by what one write adds.
    /// Fails when the socket takes nothing for `timeout`.
    func drainOutput(timeout: TimeInterval) throws(ChannelError) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let status = ssh_blocking_flush(session, 0)  // one non-blocking round; also reads what came in
            condition.broadcast()
            if status == SSH_OK { return }
            if status == SSH_ERROR || ssh_is_connected(session) == 0 {
                throw ChannelError("connection: \(SSHConnection.lastError(session))")
            }
            if Date() > deadline { throw ChannelError("connection: the client read nothing for \(Int(timeout)) s") }
            awaitSocket(writable: true, milliseconds: 200)
        }
    }

    /// Lock held: handles whatever the client sent (packets for every channel, channel opens and
    /// requests through their callbacks) without blocking, and sends what that produced (replies,
    /// window adjustments); false once the connection is gone. Polls again while data keeps coming
    /// (a bounded number of rounds), so that one wake-up of the waiting threads covers it all.
    func handleIncoming(_ event: OpaquePointer) -> Bool {
        var rounds = 0
        var status = ssh_event_dopoll(event, 0)
        while status == SSH_OK && rounds < Self.pollRoundsPerWakeUp {
            status = ssh_event_dopoll(event, 0)
            rounds += 1
        }
        if status != SSH_ERROR { _ = ssh_blocking_flush(session, 0) }
        condition.broadcast()
        return status != SSH_ERROR && ssh_is_connected(session) != 0
    }

    static let pollRoundsPerWakeUp = 16

    var isConnected: Bool { ssh_is_connected(session) != 0 }

    func setBlocking(_ blocking: Bool) { ssh_set_blocking(session, blocking ? 1 : 0) }
}
