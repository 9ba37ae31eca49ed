import Auth
import Foundation
import Logging
import MetricCatalog
import Protocols
import Storage

/// Aborts uploads a killed instance left pending (issue 12, part 6): at start and then periodically,
/// for every storage whose `abandoned_upload_age` is not 0, under each bucket and prefix that a user
/// of the file is bound to (homes and folders; nothing else in the bucket is touched). An upload
/// counts as abandoned when it began, and last received a part, more than the age ago. Any number of
/// instances may run this at once (see `StorageDriver.abortAbandonedUploads`). Each run takes the
/// configuration and storages in force, so it follows reloads.
final class AbandonedUploadReaper: Sendable {
    /// What one run needs: the storages in force and the configuration that names the scopes.
    typealias Snapshot = @Sendable () -> (config: FerryConfig, storages: StorageRegistry)

    private let snapshot: Snapshot
    private let logger: Logger

    init(snapshot: @escaping Snapshot, logger: Logger) {
        self.snapshot = snapshot
        self.logger = logger
    }

    /// How long between runs for an age: half of it, between 1 second and 1 hour.
    static func interval(forAge age: TimeInterval) -> TimeInterval { min(3600, max(1, age / 2)) }

    /// Starts the background thread: one run now, then one per interval (recomputed after each run
    /// from the smallest age in force).
    func start() {
        let thread = Thread { [self] in
            while true {
                let ages = runOnce()
                Thread.sleep(forTimeInterval: Self.interval(forAge: ages.min() ?? 3600))
            }
        }
        thread.name = "upload-reaper"
        thread.start()
    }

    /// One pass over every storage; returns the ages in force (none when every storage has 0).
    @discardableResult
    func runOnce(now: Date = Date()) -> [TimeInterval] {
        let (config, storages) = snapshot()
        var ages: [TimeInterval] = []
        for storage in config.storages where storage.abandonedUploadAge > 0 {
            ages.append(storage.abandonedUploadAge)
            guard let driver = storages.driver(named: storage.name) else { continue }
            let cutoff = now.addingTimeInterval(-storage.abandonedUploadAge)
            for scope in Self.scopes(of: storage.name, users: config.users) {
                do {
                    for upload in try driver.abortAbandonedUploads(in: scope, idleSince: cutoff) {
                        logger.info("abandoned upload aborted", metadata: [
                            "storage": "\(storage.name)", "key": "\(upload.key)", "upload_id": "\(upload.uploadID)",
                            "initiated": "\(upload.initiated)", "age_seconds": "\(Int(now.timeIntervalSince(upload.initiated)))"])
                        FerryMetric.abandonedUploadsAborted.increment(storage.name)
                    }
                } catch {
                    logger.warning("abandoned-upload check failed", metadata: [
                        "storage": "\(storage.name)", "bucket": "\(scope.bucket)", "prefix": "\(scope.key)", "error": "\(error)"])
                }
            }
        }
        return ages
    }

    /// The buckets and key prefixes of `storage` that users of the file are bound to, without one
    /// that another already covers (`a/` covers `a/b/`; a whole bucket covers all of its prefixes).
    static func scopes(of storage: String, users: [User]) -> [ObjectKey] {
        let bindings = users.flatMap { [$0.home] + $0.folders.map(\.target) }.filter { $0.storage == storage }
        var byBucket: [String: Set<String>] = [:]
        for binding in bindings { byBucket[binding.bucket, default: []].insert(binding.prefix) }
        return byBucket.keys.sorted().flatMap { bucket in
            let prefixes = byBucket[bucket]!.sorted()
            // Compared as bytes: a prefix is a key, not text (a `/` followed by a combining mark is one Character).
            let kept = prefixes.filter { prefix in !prefixes.contains { $0 != prefix && prefix.utf8.starts(with: $0.utf8) } }
            return kept.map { ObjectKey(bucket: bucket, key: $0) }
        }
    }
}
