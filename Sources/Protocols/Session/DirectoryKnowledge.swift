import Foundation

/// What one session learned about directories from its own requests, so that the next upload or
/// MKD in the same place does not ask storage again (issue 13 §4: few round trips per file).
///
/// The rule: for `lifetime` after it learned them, a session trusts two structural facts:
/// - a directory exists (it listed it, created it, or checked it);
/// - a directory has no entry of some name (a complete listing of it, or its creation by this
///   session, showed none, and this session has not made one since).
/// They spare the checks that only keep the tree tidy: "is the parent a directory", "is there a
/// directory of this name" before an upload, and "is there a file or directory of this name"
/// before MKD. They never decide whether stored bytes are replaced: before an upload, whether an
/// object exists under the key (which needs the delete flag to replace) is asked fresh, one HEAD
/// right before the PUT, or, on a store that honours conditional writes, the PUT itself is
/// conditional (`If-None-Match: *`) and the store refuses it over an object that appeared since
/// (`Session.beginUpload`; the operator's `conditional_writes` vouches that the store honours it).
/// So a stale belief can at worst let an upload land in a directory
/// another client removed meanwhile (S3 then shows it again, implied by the new key), or put a
/// file or marker beside a directory or file of the same name another client made within the
/// lifetime: never over an existing object, and never outside the home. `lifetime` 0 turns it off
/// (every check asks storage).
///
/// Keys are the bytes of `storage`, bucket and directory key (never Swift Strings, whose equality
/// would merge canonically equivalent names). At most `capacity` directories are remembered.
final class DirectoryKnowledge {
    let lifetime: TimeInterval
    let capacity: Int

    private struct Entry {
        var existsUntil: Date
        /// Every entry name (files and directories), when a complete listing or this session's MKD
        /// told them, plus what this session added since.
        var names: Set<[UInt8]>?
        var namesUntil: Date
    }

    private var entries: [[UInt8]: Entry] = [:]

    /// Names beyond this are not remembered for a listing (its directory then only counts as
    /// existing): bounded memory for huge directories.
    static let maxRememberedNames = 10_000

    init(lifetime: TimeInterval, capacity: Int = 1024) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The identity of a directory: storage, bucket and directory key, as bytes.
    static func key(storage: String, bucket: String, directoryKey: String) -> [UInt8] {
        Array(storage.utf8) + [0] + Array(bucket.utf8) + [0] + Array(directoryKey.utf8)
    }

    func knowsExists(_ directory: [UInt8], now: Date = Date()) -> Bool {
        guard lifetime > 0, let entry = entries[directory] else { return false }
        return entry.existsUntil > now
    }

    /// Whether `parent` is known to have no entry (file or directory) called `name`.
    func knowsNoEntry(_ name: String, in parent: [UInt8], now: Date = Date()) -> Bool {
        guard lifetime > 0, let entry = entries[parent], entry.namesUntil > now, let names = entry.names else { return false }
        return !names.contains(Array(name.utf8))
    }

    func learnExists(_ directory: [UInt8], now: Date = Date()) {
        update(directory, now: now) { $0.existsUntil = now.addingTimeInterval(lifetime) }
    }

    /// A complete listing: the directory exists and these are all its entries (nil: too many to
    /// remember).
    func learnListing(_ directory: [UInt8], names: Set<[UInt8]>?, now: Date = Date()) {
        update(directory, now: now) { entry in
            entry.existsUntil = now.addingTimeInterval(lifetime)
            entry.names = names
            entry.namesUntil = names == nil ? .distantPast : now.addingTimeInterval(lifetime)
        }
    }

    /// This session made `directory` (empty) as `name` inside `parent`.
    func learnCreated(_ directory: [UInt8], name: String, in parent: [UInt8], now: Date = Date()) {
        learnListing(directory, names: [], now: now)
        learnEntry(name, in: parent, now: now)
    }

    /// This session put an entry called `name` into `parent` (an upload, a marker): `parent` exists,
    /// and the name is no longer free there.
    func learnEntry(_ name: String, in parent: [UInt8], now: Date = Date()) {
        update(parent, now: now) { entry in
            entry.existsUntil = now.addingTimeInterval(lifetime)
            entry.names?.insert(Array(name.utf8))
        }
    }

    /// Forgets a directory and everything below it, and what its parent's listing said (after this
    /// session removed or renamed something there).
    func forget(_ directory: [UInt8], parent: [UInt8]?) {
        entries = entries.filter { !$0.key.starts(with: directory) }
        if let parent { entries[parent]?.names = nil }
    }

    /// Forgets everything (a change this session cannot describe precisely).
    func forgetAll() { entries.removeAll() }

    var count: Int { entries.count }

    private func update(_ directory: [UInt8], now: Date, _ change: (inout Entry) -> Void) {
        guard lifetime > 0 else { return }
        if entries[directory] == nil && entries.count >= capacity {
            entries = entries.filter { $0.value.existsUntil > now || $0.value.namesUntil > now }
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.existsUntil < $1.value.existsUntil })?.key {
                entries[oldest] = nil
            }
        }
        var entry = entries[directory] ?? Entry(existsUntil: .distantPast, names: nil, namesUntil: .distantPast)
        change(&entry)
        entries[directory] = entry
    }
}
