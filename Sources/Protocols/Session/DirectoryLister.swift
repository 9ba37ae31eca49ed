import Foundation
import Storage
import PathRules

/// One directory listing read page by page (ListObjectsV2 with delimiter `/`): objects, then the
/// common prefixes of each page, then the folder bindings mounted below the directory. Names a
/// client cannot address are skipped; nothing is cut off. Made by `Session.openDirectory`, used by
/// FTP LIST/MLSD (through `listDirectory`) and SFTP READDIR (one storage page per reply).
public final class DirectoryLister {
    private enum Stage { case storagePages, mounts, finished }

    private let session: Session
    private let location: Session.Location
    private let mounted: Set<String>
    private var cursor: ListCursor?
    private var stage = Stage.storagePages
    private var sawAnything = false
    /// Every entry name the pages showed (for `DirectoryKnowledge`); nil past its bound.
    private var names: Set<[UInt8]>? = []
    /// Object stores keep no time for implicit directories; they show the time of the listing.
    private let listedAt = Date()

    /// Whether entries show the times clients set (read by the driver when its listings lack them).
    private let withTimes: Bool
    /// Which entry names are shown (an FTP name pattern); the others cost no time lookup.
    private let including: (String) -> Bool

    init(session: Session, location: Session.Location, mounted: Set<String>, withTimes: Bool = true,
         including: @escaping (String) -> Bool = { _ in true }) {
        self.session = session
        self.location = location
        self.mounted = mounted
        self.withTimes = withTimes
        self.including = including
    }

    /// The next entries (never an empty array), or nil when the listing is complete. Listing a file
    /// or a missing path throws once the storage shows nothing below it.
    public func nextBatch() throws(SessionError) -> [FileInfo]? {
        while true {
            switch stage {
            case .finished:
                return nil
            case .mounts:
                stage = .finished
                if !sawAnything { try session.requireListable(location) }
                session.learnListing(location, names: names)
                let entries = try session.mountedEntries(location, names: mounted.filter(including))
                if !entries.isEmpty { return entries }
            case .storagePages:
                let entries = try nextStoragePage()
                if !entries.isEmpty { return entries }
            }
        }
    }

    private func nextStoragePage() throws(SessionError) -> [FileInfo] {
        let prefix = location.directoryKey
        let cursor = self.cursor
        let page = try session.storageCall { () throws(StorageError) in
            try location.driver.list(prefix, delimiter: "/", after: cursor, limit: 1000)
        }
        self.cursor = page.next
        if page.next == nil { stage = .mounts }
        if !page.objects.isEmpty || !page.commonPrefixes.isEmpty { sawAnything = true }
        // A store that drops a marker's trailing slash lists `dir` (empty) beside the prefix `dir/`.
        let directoryNames = Set(page.commonPrefixes.compactMap { Self.name(of: $0, below: prefix.key) })
        if var known = names {
            // Raw names, listable or not: every name taken in storage.
            known.formUnion(directoryNames.map { Array($0.utf8) })
            known.formUnion(page.objects.compactMap { Self.name(of: $0.key.key, below: prefix.key) }.map { Array($0.utf8) })
            names = known.count > DirectoryKnowledge.maxRememberedNames ? nil : known
        }
        // The entries shown, before any time is read for them. The directory's own marker is not
        // an entry (its time is read by `stat` when asked for), nor the empty twin `dir` of `dir/`.
        var objects = page.objects.filter { object in
            guard object.key.key != prefix.key, let name = Self.name(of: object.key.key, below: prefix.key) else { return false }
            return shows(name) && !(object.size == 0 && directoryNames.contains(name))
        }
        if withTimes { location.driver.addStoredTimes(to: &objects) }
        var entries = objects.compactMap { object in
            Self.name(of: object.key.key, below: prefix.key).map {
                FileInfo(name: $0, isDirectory: false, size: object.size, modified: object.effectiveModified,
                         permissions: location.permissions)
            }
        }
        let shown = page.commonPrefixes.compactMap { commonPrefix -> (String, String)? in
            guard let name = Self.name(of: commonPrefix, below: prefix.key), shows(name) else { return nil }
            return (name, commonPrefix)
        }
        // Subdirectories show the time stored on their markers, if any, else the time of listing.
        let times = withTimes
            ? location.driver.directoryTimes(of: shown.map { ObjectKey(bucket: prefix.bucket, key: $0.1) }, forListing: true)
            : shown.map { _ in nil }
        for ((name, _), time) in zip(shown, times) {
            entries.append(FileInfo(name: name, isDirectory: true, size: 0, modified: time ?? listedAt,
                                    permissions: location.permissions))
        }
        return entries
    }

    /// Whether a storage entry of this name is shown: addressable, not hidden by a folder binding
    /// of the same name, and asked for.
    private func shows(_ name: String) -> Bool {
        Session.isListableName(name) && !mounted.contains(name) && including(name)
    }

    /// The entry name of a listed key or common prefix below `prefix`, cut by bytes (a key's first
    /// Characters need not line up with the prefix's bytes); nil if the key is not below the prefix.
    static func name(of key: String, below prefix: String) -> String? {
        guard KeyBytes.hasPrefix(key, prefix) else { return nil }
        let name = KeyBytes.dropping(prefix, from: key)
        // The trailing `/` of a common prefix goes by bytes too (dropLast would drop a Character).
        return name.utf8.last == KeyBytes.separator ? String(decoding: name.utf8.dropLast(), as: UTF8.self) : name
    }
}
