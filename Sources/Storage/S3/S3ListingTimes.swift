import Foundation
import Locking
import Logging
import Timestamps

/// Where listings take a file's time from (`[[storage]] listing_times`).
public enum S3ListingTimes: String, Sendable, CaseIterable {
    /// The time a client set when there is one (a HeadObject per file not yet known, see
    /// `S3ListingTimeCache`), else LastModified: what sync tools compare.
    case stored
    /// S3's LastModified (when the object was written): no request beyond the listing.
    case lastModified = "last_modified"
}

/// The modification times clients set (`x-amz-meta-mtime`, rclone's form), for listings: S3's
/// ListObjectsV2 returns no user metadata, so each file's is read by HeadObject, up to
/// `headsInFlight` at once per listing page, and remembered (per storage) until the object changes.
///
/// The rule that keeps a remembered time from going stale: an entry is used only while the listed
/// ETag, size and LastModified are the ones it was read with, and only objects last written at
/// least `settledAge` before the store's clock (the HeadObject's Date) are remembered. Every write
/// of an object (a new upload, and the CopyObject that records a new time, which may keep the ETag
/// and size) gives it a later LastModified; S3 gives LastModified to the second, so a write within
/// the same second as the one remembered could go unseen, and that is what the age rules out.
/// Nothing needs invalidating, and what other gateways sharing the bucket write is covered by the
/// same rule. An object that cannot be read (access denied) is remembered as having no time;
/// objects listed without an ETag are not read at all (they show LastModified). Entries are compact
/// (the key and ETag by their 64-bit hashes: about 50 bytes each, so the 200,000 of `capacity`
/// take some 10 MB); the cache starts over when full. A hash collision could only matter if two objects also had the same size and LastModified.
final class S3ListingTimeCache: Sendable {
    /// HeadObjects per listing page at once (S3Client keeps as many connections idle for reuse).
    static let headsInFlight = 16
    /// HeadObjects at once in the whole process, whatever the number of listings.
    private static let processWideHeads = DispatchSemaphore(value: 64)
    static let capacity = 200_000
    static let settledAge: TimeInterval = 2

    private struct Entry {
        var etag: Int
        var size: UInt64
        var lastModified: Double
        /// Seconds since 1970 of the stored time; nan when the object has none.
        var storedTime: Double
    }

    let source: S3ListingTimes
    private let entries = Locked<[Int: Entry]>([:])
    /// Directories' times (stored on their markers) by marker key hash: seconds since 1970 (nan:
    /// none) and until when they are trusted (`directoryTimeLifetime`).
    private let directories = Locked<[Int: (time: Double, until: Date)]>([:])
    /// How long a directory's time read from its marker is shown without reading it again. A
    /// listing of the parent carries nothing about a subdirectory's marker (only its common
    /// prefix), so unlike files' times these cannot be checked against the listing: another
    /// gateway's change shows here at most this late (this process's own changes at once).
    static let directoryTimeLifetime: TimeInterval = 60
    /// Set once this store was seen dropping a marker's metadata (`S3Driver.setDirectoryModificationTime`
    /// read back none): no marker can hold a time here, so none is read, and setting one is refused
    /// at once, for the life of the process.
    let markersKeepNoMetadata = Locked(false)

    init(source: S3ListingTimes) {
        self.source = source
    }

    private static func hash(_ key: ObjectKey) -> Int {
        var hasher = Hasher()
        hasher.combine(key.bucket)
        hasher.combine(key.key)
        return hasher.finalize()
    }

    private static func hash(etag: String?) -> Int {
        var hasher = Hasher()
        hasher.combine(etag.map(S3Driver.bareETag))
        return hasher.finalize()
    }

    /// Sets `userMetadata["mtime"]` on every object that has one, from the cache or by HeadObject.
    func complete(_ objects: inout [ObjectMetadata], client: S3Client) {
        guard source == .stored, !objects.isEmpty else { return }
        var missing: [Int] = []
        entries.withLock { known in
            for index in objects.indices {
                let object = objects[index]
                // A directory marker (`dir/`) is read too: a directory's time is stored on it.
                if object.etag == nil { continue }
                if let entry = known[Self.hash(object.key)], entry.etag == Self.hash(etag: object.etag),
                   entry.size == object.size, entry.lastModified == object.modified.timeIntervalSince1970 {
                    if !entry.storedTime.isNaN {
                        objects[index].userMetadata[StoredMetadata.modificationTimeKey] =
                            StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: entry.storedTime))
                    }
                } else {
                    missing.append(index)
                }
            }
        }
        guard !missing.isEmpty else { return }
        let listed = missing.map { objects[$0] }
        let found = Self.readStoredTimes(of: listed, client: client)
        entries.withLock { known in
            if known.count + found.count > Self.capacity { known.removeAll(keepingCapacity: true) }
            for (position, (time, settled)) in found where settled {
                let object = listed[position]
                let seconds = time.flatMap { StoredMetadata.modificationTime(in: [StoredMetadata.modificationTimeKey: $0]) }
                known[Self.hash(object.key)] = Entry(etag: Self.hash(etag: object.etag), size: object.size,
                                                     lastModified: object.modified.timeIntervalSince1970,
                                                     storedTime: seconds?.timeIntervalSince1970 ?? .nan)
            }
        }
        for (position, (time, _)) in found {
            if let time { objects[missing[position]].userMetadata[StoredMetadata.modificationTimeKey] = time }
        }
        client.logger.debug("listing times read", metadata: ["objects": "\(objects.count)", "read": "\(missing.count)"])
    }

    /// HeadObject for each of `objects`, `headsInFlight` at a time, on threads of their own (the
    /// listing's thread waits). Returns, by position, the `mtime` value of each object that is still
    /// the one listed (same ETag and size), and whether it may be remembered (`settledAge`); objects
    /// that changed, vanished or failed are left out, except access denied: no time, remembered.
    private static func readStoredTimes(of objects: [ObjectMetadata], client: S3Client,
                                        checkingListed: Bool = true) -> [Int: (String?, Bool)] {
        let results = Locked<[Int: (String?, Bool)]>([:])
        let next = Locked(0)
        let group = DispatchGroup()
        for _ in 0..<min(headsInFlight, objects.count) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while true {
                    let position = next.withLock { value -> Int in
                        defer { value += 1 }
                        return value
                    }
                    guard position < objects.count else { return }
                    let listed = objects[position]
                    processWideHeads.wait()
                    defer { processWideHeads.signal() }
                    do throws(StorageError) {
                        let response = try client.send(S3Client.Request(operation: .headObject, bucket: listed.key.bucket, key: listed.key.key))
                        let found = S3Driver.objectMetadata(listed.key, headers: response.headers)
                        guard !checkingListed || (Self.sameETag(found.etag, listed.etag) && found.size == listed.size) else { continue }
                        let time = found.userMetadata[StoredMetadata.modificationTimeKey]
                        let storeNow = response.headers["date"].flatMap(UTCTime.parseHTTPDate) ?? Date()
                        let settled = listed.modified < storeNow.addingTimeInterval(-settledAge)
                        results.withLock { $0[position] = (time, settled) }
                    } catch .accessDenied {
                        results.withLock { $0[position] = (nil, true) }  // readable never, by these credentials
                    } catch .notFound where !checkingListed {
                        results.withLock { $0[position] = (nil, true) }  // a directory without a marker
                    } catch {
                        client.logger.debug("listing time not read", metadata: ["key": "\(listed.key)", "error": "\(error)"])
                    }
                }
            }
            thread.name = "s3-listing-times"
            thread.start()
        }
        group.wait()
        return results.withLock { $0 }
    }

    /// The times stored on the markers `markers` (`dir/`), by position; nil for a directory whose
    /// marker has none or that has no marker. Each one not read in the last
    /// `directoryTimeLifetime` costs one HeadObject (`headsInFlight` at once). With
    /// `listing_times = "last_modified"` a listing (`forListing`) reads none.
    func directoryTimes(_ markers: [ObjectKey], forListing: Bool, client: S3Client) -> [Date?] {
        if markers.isEmpty || (forListing && source == .lastModified) || markersKeepNoMetadata.withLock({ $0 }) {
            return markers.map { _ in nil }
        }
        let now = Date()
        var times: [Date?] = markers.map { _ in nil }
        var missing: [Int] = []
        directories.withLock { known in
            for (index, marker) in markers.enumerated() where !marker.key.isEmpty {  // a bucket's root has no marker
                if let entry = known[Self.hash(marker)], entry.until > now {
                    times[index] = entry.time.isNaN ? nil : Date(timeIntervalSince1970: entry.time)
                } else {
                    missing.append(index)
                }
            }
        }
        guard !missing.isEmpty else { return times }
        let asked = missing.map { ObjectMetadata(key: markers[$0], size: 0, modified: now) }
        let found = Self.readStoredTimes(of: asked, client: client, checkingListed: false)
        let until = now.addingTimeInterval(Self.directoryTimeLifetime)
        directories.withLock { known in
            if known.count + found.count > Self.capacity { known.removeAll(keepingCapacity: true) }
            for (position, (value, _)) in found {
                let time = value.flatMap { StoredMetadata.modificationTime(in: [StoredMetadata.modificationTimeKey: $0]) }
                known[Self.hash(markers[missing[position]])] = (time?.timeIntervalSince1970 ?? .nan, until)
                times[missing[position]] = time
            }
        }
        return times
    }

    /// This process set a directory's time (read back from the store): shown at once.
    func rememberDirectoryTime(_ marker: ObjectKey, _ time: Date) {
        directories.withLock { $0[Self.hash(marker)] = (time.timeIntervalSince1970, Date().addingTimeInterval(Self.directoryTimeLifetime)) }
    }

    /// This process wrote, copied onto or deleted these keys: the markers among them are read again.
    func forgetDirectoryTimes(_ keys: [ObjectKey]) {
        let markers = keys.filter { $0.key.utf8.last == UInt8(ascii: "/") }
        guard !markers.isEmpty else { return }
        directories.withLock { known in
            for marker in markers { known[Self.hash(marker)] = nil }
        }
    }

    /// ETags compared without their quotes.
    static func sameETag(_ one: String?, _ other: String?) -> Bool {
        one.map(S3Driver.bareETag) == other.map(S3Driver.bareETag)
    }
}
