/// Puts pipelined SFTP WRITEs back in order for a streaming upload.
///
/// Object storage takes an upload as one stream, but an SFTP client may keep many WRITEs in flight
/// and nothing in draft-02 §6.4 forces them to arrive in offset order. Writes at the next expected
/// offset pass straight through; writes further ahead are held until the gap before them is filled,
/// as long as everything held stays within `window` bytes past the expected offset. A write before
/// the expected offset would rewrite bytes already streamed, which a stream cannot do.
struct SFTPWriteOrder {
    enum Refusal: Error, Equatable {
        /// The write ends more than `window` bytes past the first byte still missing.
        case beyondWindow(offset: UInt64, expected: UInt64, window: Int)
        /// The write starts before bytes already released (or overlaps a held write).
        case rewrite(offset: UInt64, expected: UInt64)
    }

    let window: Int
    /// The offset of the first byte not yet released.
    private(set) var expected: UInt64
    private var held: [UInt64: [UInt8]] = [:]
    /// Bytes held in memory, waiting for a gap to be filled.
    private(set) var heldBytes = 0

    init(window: Int, startingAt offset: UInt64) {
        self.window = window
        self.expected = offset
    }

    /// True when no write is waiting for a gap (a clean end of the upload).
    var isContiguous: Bool { held.isEmpty }

    /// Accepts one write; returns the chunks that are now in order, to be streamed in that order.
    /// A held write is copied (`data` may be a view into a buffer that is about to be reused).
    mutating func accept(offset: UInt64, data: ArraySlice<UInt8>) throws(Refusal) -> [ArraySlice<UInt8>] {
        if data.isEmpty { return [] }
        if offset < expected { throw .rewrite(offset: offset, expected: expected) }
        if offset > expected {
            // Written without `offset + count`: a client-chosen offset near 2^64 must not overflow.
            let ahead = offset - expected
            guard ahead <= UInt64(window), UInt64(data.count) <= UInt64(window) - ahead else {
                throw .beyondWindow(offset: offset, expected: expected, window: window)
            }
            guard held[offset] == nil else { throw .rewrite(offset: offset, expected: expected) }
            held[offset] = Array(data)
            heldBytes += data.count
            return []
        }
        var ready = [data]
        expected += UInt64(data.count)
        while let next = held.removeValue(forKey: expected) {
            heldBytes -= next.count
            expected += UInt64(next.count)
            ready.append(next[...])
        }
        // A held write that now starts before `expected` overlapped one that was released.
        if let stale = held.keys.first(where: { $0 < expected }) {
            throw .rewrite(offset: stale, expected: expected)
        }
        return ready
    }
}
