import Auth
import Foundation
import Logging
import Storage
import PathRules

/// One logged-in user's view of storage, shared by every protocol adapter (FTP, SFTP): path
/// resolution, bindings, the permission gate, and the file-system semantics built from object-store
/// calls (directories, rename, resume). Adapters only translate their protocol into these calls.
///
/// A session belongs to one connection thread. Costs below are in S3 requests.
public final class Session {
    /// The user as the configuration now defines it (`refreshUser` follows reloads).
    public private(set) var user: User
    /// The storages the user's bindings are looked up in (replaced with the user by a reload).
    private(set) var storages: StorageRegistry
    /// The object this session published last (storage name, what the store's answer said, when),
    /// for a time set on it right after (lftp's MFMT after STOR) without a HeadObject. Used once,
    /// within `publishedAnswerLifetime`, and forgotten at the next upload, delete or rename.
    private var lastPublished: (storage: String, object: ObjectMetadata, at: Date)?
    static let publishedAnswerLifetime: TimeInterval = 10
    let logger: Logger
    /// Directories this session listed, made or checked (see `DirectoryKnowledge` for the rule).
    let directories: DirectoryKnowledge
    /// Where a reload's changes to this user come from; nil: the user never changes (tests).
    private let directory: UserDirectory?
    /// Where a reload's storages come from (nil: they never change).
    private let liveStorages: LiveStorages?
    private var seenGeneration: Int
    private var removedByReload = false

    public init(user: User, storages: StorageRegistry, logger: Logger, directory: UserDirectory? = nil,
                liveStorages: LiveStorages? = nil) {
        self.user = user
        self.storages = liveStorages?.registry ?? storages
        self.liveStorages = liveStorages
        self.logger = logger
        self.directories = DirectoryKnowledge(lifetime: storages.directoryCacheLifetime)
        self.directory = directory
        // Never a generation the directory has: the first command looks the user up again, since a
        // reload may have come between the login and this session (SSH opens its channel later).
        self.seenGeneration = -1
    }

    /// Whether the session's user still exists after configuration reloads.
    public enum UserStanding: Sendable, Equatable {
        case current
        /// The reloaded file no longer has this user: the adapter ends the session (FTP 421, SSH
        /// disconnect) once its current transfer is over.
        case removed
    }

    /// Called by the adapters before each command: applies what a reload changed for this user
    /// (home, authority, delete flag, folders — from this command on), or reports that the user was
    /// removed. Users defined by the identity service are not the file's to change.
    public func refreshUser() -> UserStanding {
        guard let directory, !user.definedByIdentityService else { return .current }
        if removedByReload { return .removed }
        let generation = directory.generation
        guard generation != seenGeneration else { return .current }
        guard let reloaded = directory.user(named: user.name) else {
            logger.info("user removed by a configuration reload: ending the session", metadata: ["user": "\(user.name)"])
            removedByReload = true
            return .removed
        }
        seenGeneration = generation
        // The reload put its storages in force before its users (Server.reload), so these are the
        // ones the reloaded bindings name.
        if let liveStorages {
            storages = liveStorages.registry
            // A storage of the same name may now point elsewhere: what was learned of it is void.
            directories.forgetAll()
        }
        if !reloaded.hasSameAccess(as: user) {
            logger.info("user changed by a configuration reload: applied from this command on", metadata: [
                "user": "\(user.name)", "home": "\(reloaded.home)", "authority": "\(reloaded.authority)", "delete": "\(reloaded.mayDelete)"])
        }
        user = reloaded
        return .current
    }

    // MARK: Paths and bindings

    /// Where a virtual path lives.
    struct Location {
        let path: VirtualPath
        let binding: StorageBinding
        let driver: any StorageDriver
        let authority: Authority
        let mayDelete: Bool
        /// The object key of the path (no trailing slash), or the binding's prefix for its root.
        let key: String
        /// True for `/`, for a folder binding's own path, and for the parents of folder paths: places
        /// that exist because of the configuration, not because of storage.
        let isFixedDirectory: Bool

        var objectKey: ObjectKey { ObjectKey(bucket: binding.bucket, key: key) }
        /// The directory at this path, as `DirectoryKnowledge` names it.
        var directoryIdentity: [UInt8] {
            DirectoryKnowledge.key(storage: binding.storage, bucket: binding.bucket, directoryKey: directoryKey.key)
        }
        /// The key prefix of the path as a directory (`a/b/`, or the binding prefix at its root).
        var directoryKey: ObjectKey {
            ObjectKey(bucket: binding.bucket, key: key.isEmpty || key.utf8.last == KeyBytes.separator ? key : key + "/")
        }
        /// What listings show this user may do here: the gate's answers, never computed a second way.
        var permissions: FilePermissions {
            FilePermissions(canRead: allows(.download), canWrite: allows(.upload), canDelete: allows(.deleteFile),
                            canReplace: allows(.replaceExisting))
        }

        func allows(_ operation: FileOperation) -> Bool {
            PermissionGate.allows(operation, authority: authority, mayDelete: mayDelete)
        }
    }

    /// Turns client input into a path; relative input starts at `directory`.
    public func resolve(_ input: String, from directory: VirtualPath) throws(SessionError) -> VirtualPath {
        do {
            return try VirtualPath.resolve(input, from: directory)
        } catch {
            throw .invalidPath(error)
        }
    }

    private var folderPaths: [(path: VirtualPath, folder: FolderBinding)] {
        user.folders.compactMap { folder in
            (try? VirtualPath.resolve(folder.path)).map { ($0, folder) }
        }
    }

    func locate(_ path: VirtualPath) throws(SessionError) -> Location {
        var binding = user.home
        var authority = user.authority
        var mayDelete = user.mayDelete
        var base = VirtualPath.root
        for (folderPath, folder) in folderPaths where path.isInside(folderPath) && folderPath.components.count > base.components.count {
            binding = folder.target
            authority = folder.authority
            mayDelete = folder.mayDelete
            base = folderPath
        }
        guard let driver = storages.driver(named: binding.storage) else { throw .unknownStorage(binding.storage) }
        let relative = path.components.dropFirst(base.components.count)
        // VirtualPath only holds plain names; checked again here, at the one place a path becomes a
        // key, so that the key is under the binding's prefix even if that invariant were ever broken.
        for component in relative where !KeyBytes.isPlainName(component) {
            logger.error("refused a path component that is not a plain name", metadata: ["path": "\(path)"])
            throw .invalidPath(.notASingleName)
        }
        let key = binding.prefix + relative.joined(separator: "/")
        let isMountParent = folderPaths.contains { $0.path.isInside(path) && $0.path != path }
        return Location(path: path, binding: binding, driver: driver, authority: authority, mayDelete: mayDelete,
                        key: relative.isEmpty ? binding.prefix : key,
                        isFixedDirectory: relative.isEmpty || isMountParent)
    }

    /// Names of folder bindings (or their parents) directly below `path`, shown as directories.
    func mountedNames(below path: VirtualPath) -> Set<String> {
        var names: Set<String> = []
        for (folderPath, _) in folderPaths where folderPath.isInside(path) && folderPath != path {
            names.insert(folderPath.components[path.components.count])
        }
        return names
    }

    /// The single permission gate: throws unless the binding at `location` allows `operation`.
    func authorize(_ operation: FileOperation, _ location: Location) throws(SessionError) {
        guard location.allows(operation) else {
            logger.info("permission denied", metadata: ["user": "\(user.name)", "operation": "\(operation.rawValue)",
                                                        "path": "\(location.path)"])
            throw .permissionDenied(operation, location.path.description)
        }
    }

    private func storage<T>(_ body: () throws(StorageError) -> T) throws(SessionError) -> T {
        do {
            return try body()
        } catch {
            throw .storage(error)
        }
    }

    // MARK: Metadata

    /// What is at `path`: a file (1 request) or a directory (2 requests); `.notFound` otherwise.
    public func stat(_ path: VirtualPath) throws(SessionError) -> FileInfo {
        let location = try locate(path)
        try authorize(.readMetadata, location)
        return try stat(location, withStoredTime: true)
    }

    /// Records `date` as a file's or directory's modification time (FTP MFMT, SFTP SETSTAT, scp -p),
    /// without rewriting its bytes; `stat` shows it afterwards, and the entry as it now is comes
    /// back. Needs write access. Cost on S3 for a file: HEAD and CopyObject (the copy pinned to the
    /// ETag the HEAD saw); only the CopyObject for the file this session published last
    /// (`lastPublished`). A directory's time goes on its marker
    /// (`StorageDriver.setDirectoryModificationTime`); a store that cannot keep it refuses
    /// (`.unsupported`), never an answer of success for a time not kept.
    @discardableResult
    public func setModificationTime(_ path: VirtualPath, to date: Date) throws(SessionError) -> FileInfo {
        let location = try locate(path)
        try authorize(.setAttributes, location)
        if let (storageName, published, at) = lastPublished, storageName == location.binding.storage,
           published.key == location.objectKey, !location.isFixedDirectory,
           Date().timeIntervalSince(at) < Self.publishedAnswerLifetime {
            lastPublished = nil
            do throws(StorageError) {
                // Pinned to the ETag the upload's answer gave: if anyone replaced the object since,
                // the store refuses the copy and the time is set below, after a fresh HeadObject.
                try location.driver.setModificationTime(of: published, to: date)
                logTimeSet(path, date, ["with": "published"])
                return FileInfo(name: location.path.name, isDirectory: false, size: published.size, modified: date,
                                permissions: location.permissions)
            } catch {
                logger.info("modification time: the upload's answer did not do (the file changed since?); reading the file again",
                            metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
        guard !location.isFixedDirectory,
              let object = try storage({ () throws(StorageError) in try location.driver.metadata(location.objectKey) }) else {
            if !location.isFixedDirectory, try directoryModified(location) == nil { throw .notFound(path.description) }
            if location.isFixedDirectory, location.key != location.binding.prefix {
                // A directory the configuration makes (a parent of folders): nothing in storage holds it.
                throw .storage(.unsupported(detail: "\(path) exists only as a parent of folders and keeps no time"))
            }
            try storage { () throws(StorageError) in try location.driver.setDirectoryModificationTime(location.directoryKey, to: date) }
            logTimeSet(path, date, ["directory": "true"])
            return FileInfo(name: location.path.name, isDirectory: true, size: 0, modified: date, permissions: location.permissions)
        }
        try storage { () throws(StorageError) in try location.driver.setModificationTime(of: object, to: date) }
        logTimeSet(path, date)
        return FileInfo(name: location.path.name, isDirectory: false, size: object.size, modified: date,
                        permissions: location.permissions)
    }

    private func logTimeSet(_ path: VirtualPath, _ date: Date, _ details: Logger.Metadata = [:]) {
        logger.info("modification time set", metadata: details.merging(
            ["user": "\(user.name)", "path": "\(path)", "mtime": "\(StoredMetadata.modificationTimeValue(date))"]) { $1 })
    }

    /// The time a client gave before its upload ended (SFTP FSETSTAT, an scp `T` line), once the
    /// upload is published: logged when the upload stored it (`storedWithUpload`, the answer of
    /// `ObjectUpload.recordModificationTime`), else set now with `setModificationTime`. The upload
    /// is complete either way, so a failure here is logged, not reported.
    public func setModificationTimeAfterUpload(_ path: VirtualPath, to date: Date, storedWithUpload: Bool) {
        if storedWithUpload {
            logTimeSet(path, date, ["with": "upload"])
            return
        }
        do throws(SessionError) {
            try setModificationTime(path, to: date)
        } catch {
            logger.warning("modification time not set after upload", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// `stat` of a place about to be written (a rename's target): whether a file is there is asked
    /// fresh, since it decides what is replaced; whether a directory of that name is there is not
    /// asked when this session knows the parent has no such entry (`DirectoryKnowledge`).
    private func statBeforeWriting(_ location: Location) throws(SessionError) -> FileInfo {
        guard !location.isFixedDirectory, try knowsNoEntry(location) else { return try stat(location) }
        guard let object = try storage({ () throws(StorageError) in try location.driver.metadata(location.objectKey) }) else {
            throw .notFound(location.path.description)
        }
        return FileInfo(name: location.path.name, isDirectory: false, size: object.size, modified: object.effectiveModified,
                        permissions: location.permissions)
    }

    /// `stat` for callers that only go on with a directory (CWD, the target of a listing): a
    /// directory this session listed, made or checked moments ago (`DirectoryKnowledge`) costs no
    /// request; its time is the time of asking, as for implicit directories.
    public func statExpectingDirectory(_ path: VirtualPath) throws(SessionError) -> FileInfo {
        let location = try locate(path)
        try authorize(.readMetadata, location)
        if location.isFixedDirectory || directories.knowsExists(location.directoryIdentity) {
            return FileInfo(name: location.path.name, isDirectory: true, size: 0, modified: Date(),
                            permissions: location.permissions)
        }
        return try stat(location)
    }

    /// What is at `location`. `withStoredTime`: a directory's time as a client set it (one more
    /// HeadObject on S3, trusted for a minute); the checks before changes need no time.
    private func stat(_ location: Location, withStoredTime: Bool = false) throws(SessionError) -> FileInfo {
        if location.isFixedDirectory {
            // A home or folder may keep the time a client set (its marker, a local directory's
            // mtime); without one, or on failure, now.
            let modified = withStoredTime ? storedDirectoryTime(location) : nil
            return FileInfo(name: location.path.name, isDirectory: true, size: 0, modified: modified ?? Date(),
                            permissions: location.permissions)
        }
        if let object = try storage({ () throws(StorageError) in try location.driver.metadata(location.objectKey) }) {
            // Some stores drop the trailing slash of a marker: an empty `dir` beside `dir/…` keys is the directory.
            if object.size == 0, let modified = try directoryModified(location, withStoredTime: withStoredTime) {
                return FileInfo(name: location.path.name, isDirectory: true, size: 0, modified: modified,
                                permissions: location.permissions)
            }
            return FileInfo(name: location.path.name, isDirectory: false, size: object.size, modified: object.effectiveModified,
                            permissions: location.permissions)
        }
        if let modified = try directoryModified(location, withStoredTime: withStoredTime) {
            return FileInfo(name: location.path.name, isDirectory: true, size: 0, modified: modified,
                            permissions: location.permissions)
        }
        throw .notFound(location.path.description)
    }

    /// A directory exists if its marker or any key below it exists: one listing of at most one key
    /// (the marker `dir/` sorts first). Returns its modification time: with `withStoredTime`, the
    /// time stored on its marker (`StorageDriver.directoryTimes`: on S3 one HeadObject, trusted for
    /// a minute), else the marker's, else now.
    private func directoryModified(_ location: Location, withStoredTime: Bool = false) throws(SessionError) -> Date? {
        let page = try storage { () throws(StorageError) in
            try location.driver.list(location.directoryKey, delimiter: nil, after: nil, limit: 1)
        }
        if let marker = page.objects.first {
            guard marker.key == location.directoryKey else { return Date() }
            return (withStoredTime ? storedDirectoryTime(location) : nil) ?? marker.effectiveModified
        }
        return page.commonPrefixes.isEmpty ? nil : Date()
    }

    /// The time a client set on the directory at `location` (`StorageDriver.directoryTimes`: on S3
    /// one HeadObject of its marker, trusted for a minute); nil when it has none.
    private func storedDirectoryTime(_ location: Location) -> Date? {
        location.driver.directoryTimes(of: [location.directoryKey], forListing: false).first ?? nil
    }

    // MARK: Listing

    /// Streams the entries of a directory, one storage page at a time, to `visit` (return false to
    /// stop). Every page is read: a listing is never silently cut off. `withTimes: false` when only
    /// names are shown (the times clients set are then not read: `StorageDriver.addStoredTimes`);
    /// `including` picks the names shown (an FTP pattern), and no time is read for the others.
    public func listDirectory(_ path: VirtualPath, withTimes: Bool = true, including: @escaping (String) -> Bool = { _ in true },
                              _ visit: (FileInfo) throws -> Bool) throws(SessionError) {
        let lister = try openDirectory(path, withTimes: withTimes, including: including)
        while let batch = try lister.nextBatch() {
            for info in batch {
                guard try deliver(info, visit) else { return }
            }
        }
    }

    /// A pull-style listing of `path` (for protocols that page their replies, like SFTP READDIR):
    /// each `nextBatch()` reads one storage page, so memory stays bounded by one page.
    public func openDirectory(_ path: VirtualPath, withTimes: Bool = true,
                              including: @escaping (String) -> Bool = { _ in true }) throws(SessionError) -> DirectoryLister {
        let location = try locate(path)
        try authorize(.listDirectory, location)
        return DirectoryLister(session: self, location: location, mounted: mountedNames(below: path), withTimes: withTimes,
                               including: including)
    }

    /// The children of `location` that folder bindings add, as directory entries.
    func mountedEntries(_ location: Location, names: Set<String>) throws(SessionError) -> [FileInfo] {
        var entries: [FileInfo] = []
        for name in names.sorted() {
            let childPath: VirtualPath
            do { childPath = try location.path.appending(name) } catch { throw .invalidPath(error) }
            let child = try locate(childPath)
            entries.append(FileInfo(name: name, isDirectory: true, size: 0, modified: Date(), permissions: child.permissions))
        }
        return entries
    }

    /// After a listing that found nothing: an empty directory, or an error for a file or nothing at all.
    func requireListable(_ location: Location) throws(SessionError) {
        if location.isFixedDirectory { return }
        let info = try stat(location)
        if !info.isDirectory { throw .notADirectory(location.path.description) }
    }

    func storageCall<T>(_ body: () throws(StorageError) -> T) throws(SessionError) -> T {
        try storage(body)
    }

    private func deliver(_ info: FileInfo, _ visit: (FileInfo) throws -> Bool) throws(SessionError) -> Bool {
        do {
            return try visit(info)
        } catch let error as SessionError {
            throw error
        } catch {
            throw .storage(.aborted)
        }
    }

    /// Keys written by other tools may hold names a client cannot address; they are not listed.
    static func isListableName(_ name: String) -> Bool {
        KeyBytes.isPlainName(name)
    }

    // MARK: Reading and writing

    /// Opens a file for download from `offset`. Throws `.isADirectory` for directories.
    public func openRead(_ path: VirtualPath, from offset: UInt64) throws(SessionError) -> (reader: any ObjectReader, info: FileInfo) {
        let location = try locate(path)
        try authorize(.download, location)
        let info = try stat(location)
        if info.isDirectory { throw .isADirectory(path.description) }
        if offset > info.size { throw .offsetBeyondEnd(requested: offset, size: info.size) }
        let reader = try storage { () throws(StorageError) in try location.driver.openRead(location.objectKey, from: offset) }
        return (reader, info)
    }

    /// Starts an upload. Nothing is visible until the returned upload commits; if it is aborted or
    /// dropped, the previous file (if any) is untouched.
    ///
    /// A new file in a directory this session knows (`createsBlind`) asks storage nothing first: it
    /// is published with a conditional write (`UploadOptions.onlyIfAbsent`), which the store refuses
    /// if an object appeared under the key meanwhile. The overwrite rule is then applied to that
    /// object (one HeadObject) and the upload published over it, or refused, as if it had been
    /// asked first (`TrackedUpload`). So a stale belief never publishes over an existing object.
    ///
    /// `.create` asks first and throws `.alreadyExists` for a name that is taken; it is always
    /// published conditionally where the store can, so an object that appears meanwhile fails the
    /// commit (`appearedObjectRefusal`).
    public func beginUpload(_ path: VirtualPath, mode: UploadMode) throws(SessionError) -> any ObjectUpload {
        lastPublished = nil
        let location = try locate(path)
        // A create-only upload always asks first: a name taken since the session looked is then
        // refused before any byte is sent (STOU picks the next), not after the whole transfer.
        let blind = mode == .replace ? try createsBlind(location) : false
        let existing = try checkUpload(location, askingForObject: !blind)
        let keep: UInt64
        switch mode {
        case .create:
            if existing != nil { throw .alreadyExists(path.description) }
            keep = 0
        case .replace:
            keep = 0
        case .resume(let offset):
            let size = existing?.size ?? 0
            if offset > size { throw .offsetBeyondEnd(requested: offset, size: size) }
            keep = offset
        case .append:
            keep = existing?.size ?? 0
        }
        if let existing { try authorizeOverwrite(existingSize: existing.size, keeping: keep, location) }
        let upload = try storage { () throws(StorageError) in
            try location.driver.beginUpload(location.objectKey,
                                            options: UploadOptions(keepingPrefix: keep, onlyIfAbsent: blind || mode == .create))
        }
        if existing == nil, !location.path.isRoot {
            // Whether or not it completes, the name may be taken: never "known free" again.
            directories.learnEntry(location.path.name, in: try locate(location.path.parent).directoryIdentity)
        }
        let storageName = location.binding.storage
        let whenObjectExists = mode == .create ? appearedObjectRefusal(location) : blind ? appearedObjectRule(location) : nil
        return TrackedUpload(upload, whenObjectExists: whenObjectExists) { [weak self] published in
            self?.lastPublished = (storageName, published, Date())
        }
    }

    /// Whether an upload to `location` may be created without asking first: the store refuses a
    /// conditional write over an object (`StorageCapabilities.createsOnlyIfAbsent`), and this
    /// session knows the parent has no entry of that name (`DirectoryKnowledge`).
    private func createsBlind(_ location: Location) throws(SessionError) -> Bool {
        guard location.driver.capabilities.createsOnlyIfAbsent, !location.isFixedDirectory else { return false }
        return try knowsNoEntry(location)
    }

    /// A conditional upload found an object under its key at commit (another client wrote it since
    /// this session looked): the overwrite rule decides, on the object now there, whether the upload
    /// may replace it (`TrackedUpload.ObjectExistsCheck`). A refusal is logged by the gate and thrown
    /// as a storage error, which reaches the client as a refusal.
    private func appearedObjectRule(_ location: Location) -> TrackedUpload.ObjectExistsCheck {
        TrackedUpload.ObjectExistsCheck(
            find: { [weak self] () throws(StorageError) -> ObjectMetadata? in
                let existing = try location.driver.metadata(location.objectKey)
                self?.logger.info("upload: a file appeared under its name meanwhile; the overwrite rule applies to it",
                                  metadata: ["path": "\(location.path)", "size": "\(existing?.size ?? 0)"])
                return existing
            },
            allow: { [weak self] (existing: ObjectMetadata) throws(StorageError) in
                guard let self else { throw .aborted }
                do throws(SessionError) {
                    try self.authorizeOverwrite(existingSize: existing.size, keeping: 0, location)
                } catch {
                    throw .accessDenied(detail: "\(error) (the file appeared after this session looked)")
                }
            })
    }

    /// A create-only upload (`UploadMode.create`) found an object under its key at commit: it is
    /// refused, whatever the user may delete, and the other client's file stays. The object is not
    /// checked for being the upload's own (`recognizesOwn`): two clients creating the same empty
    /// lock file would both be told they made it. A first attempt stored whose answer was lost
    /// therefore ends as a failure although its file is there, the safe side for a create.
    private func appearedObjectRefusal(_ location: Location) -> TrackedUpload.ObjectExistsCheck {
        TrackedUpload.ObjectExistsCheck(
            recognizesOwn: false,
            find: { () throws(StorageError) -> ObjectMetadata? in try location.driver.metadata(location.objectKey) },
            allow: { [weak self] (existing: ObjectMetadata) throws(StorageError) in
                self?.logger.warning("upload refused: a file appeared under its name meanwhile, and the upload creates only",
                                     metadata: ["path": "\(location.path)", "size": "\(existing.size)"])
                throw .objectExists(key: location.objectKey.key)
            })
    }

    /// Everything `beginUpload` checks, without starting an upload: the gate, not a directory, the
    /// parent exists, and with `replacing` the overwrite rule. Returns the existing file's size, nil
    /// for a new file. (SFTP opens a file for writing before it knows where the first write lands;
    /// an open that truncates knows it replaces.) With `mayCreate`, a file this session knows is
    /// new is not asked for (`createsBlind`; its upload is then published conditionally).
    public func checkUpload(_ path: VirtualPath, replacing: Bool = false, mayCreate: Bool = false) throws(SessionError) -> UInt64? {
        let location = try locate(path)
        let blind = mayCreate ? try createsBlind(location) : false
        let existing = try checkUpload(location, askingForObject: !blind)
        if replacing, let existing { try authorizeOverwrite(existingSize: existing.size, keeping: 0, location) }
        return existing?.size
    }

    /// The one overwrite rule, for uploads, renames and copies alike: destroying bytes of an
    /// existing file (replacing it, resuming before its end, renaming or copying onto it) needs
    /// `replaceExisting`, that is write and the delete flag. A user who may not delete cannot empty
    /// a file by writing over it either. Appending, resuming at the end, and replacing an empty
    /// file destroy nothing and need write only.
    private func authorizeOverwrite(existingSize: UInt64, keeping kept: UInt64, _ location: Location) throws(SessionError) {
        if existingSize > kept { try authorize(.replaceExisting, location) }
    }

    /// The checks before an upload. Whether an object is under the key is asked fresh
    /// (`askingForObject`), since it decides whether bytes would be replaced, unless the upload is
    /// published conditionally (`createsBlind`).
    private func checkUpload(_ location: Location, askingForObject: Bool) throws(SessionError) -> ObjectMetadata? {
        try authorize(.upload, location)
        if location.isFixedDirectory { throw .isADirectory(location.path.description) }
        let existing = askingForObject
            ? try storage { () throws(StorageError) in try location.driver.metadata(location.objectKey) } : nil
        if existing == nil {
            if try !knowsNoEntry(location), try directoryModified(location) != nil {
                throw .isADirectory(location.path.description)
            }
            try requireDirectory(location.path.parent)
        }
        return existing
    }

    /// Whether this session knows, from its own recent listing or MKD of the parent, that the
    /// parent has no entry of `location`'s name (`DirectoryKnowledge`).
    private func knowsNoEntry(_ location: Location) throws(SessionError) -> Bool {
        guard !location.path.isRoot else { return false }
        return directories.knowsNoEntry(location.path.name, in: try locate(location.path.parent).directoryIdentity)
    }

    // MARK: Directories

    /// Throws unless `path` is an existing directory (one listing of at most one key).
    private func requireDirectory(_ path: VirtualPath) throws(SessionError) {
        let location = try locate(path)
        if location.isFixedDirectory { return }
        if directories.knowsExists(location.directoryIdentity) { return }
        if try directoryModified(location) != nil {
            directories.learnExists(location.directoryIdentity)
            return
        }
        let isFile = try storage { () throws(StorageError) in try location.driver.metadata(location.objectKey) } != nil
        throw isFile ? .notADirectory(path.description) : .notFound(path.description)
    }

    /// Creates a directory (writes its marker). The parent must exist.
    public func makeDirectory(_ path: VirtualPath) throws(SessionError) {
        let location = try locate(path)
        try authorize(.makeDirectory, location)
        if location.isFixedDirectory { throw .alreadyExists(path.description) }
        try requireDirectory(path.parent)
        // No bytes are at stake: when this session knows the parent has no entry of that name, the
        // marker is written without asking again (`DirectoryKnowledge`).
        if try !knowsNoEntry(location) {
            let file = try storage { () throws(StorageError) in try location.driver.metadata(location.objectKey) }
            if file != nil { throw .alreadyExists(path.description) }
            if try directoryModified(location) != nil { throw .alreadyExists(path.description) }
        }
        try storage { () throws(StorageError) in
            let marker = try location.driver.beginUpload(location.directoryKey, options: UploadOptions())
            try marker.commit()
        }
        directories.learnCreated(location.directoryIdentity, name: path.name, in: try locate(path.parent).directoryIdentity)
    }

    /// A complete listing of `location` (DirectoryLister): it exists, with these subdirectories.
    func learnListing(_ location: Location, names: Set<[UInt8]>?) {
        directories.learnListing(location.directoryIdentity, names: names)
    }

    /// Removes an empty directory. Emptiness is checked with a listing without delimiter (a delimiter
    /// listing can show prefixes of deleted keys for a while on some stores).
    public func removeDirectory(_ path: VirtualPath) throws(SessionError) {
        lastPublished = nil
        let location = try locate(path)
        try authorize(.removeDirectory, location)
        if location.isFixedDirectory { throw .bindingRoot(path.description) }
        let info = try stat(location)
        if !info.isDirectory { throw .notADirectory(path.description) }
        let page = try storage { () throws(StorageError) in
            try location.driver.list(location.directoryKey, delimiter: nil, after: nil, limit: 2)
        }
        if page.objects.contains(where: { $0.key != location.directoryKey }) || !page.commonPrefixes.isEmpty {
            throw .directoryNotEmpty(path.description)
        }
        try storage { () throws(StorageError) in try location.driver.delete([location.directoryKey]) }
        directories.forget(location.directoryIdentity, parent: try locate(path.parent).directoryIdentity)
    }

    /// Deletes a file.
    public func deleteFile(_ path: VirtualPath) throws(SessionError) {
        lastPublished = nil
        let location = try locate(path)
        try authorize(.deleteFile, location)
        let info = try stat(location)
        if info.isDirectory { throw .isADirectory(path.description) }
        try storage { () throws(StorageError) in try location.driver.delete([location.objectKey]) }
    }

    // MARK: Rename and copy

    /// Renames a file or a whole directory. A file is copied then deleted; a directory's objects are
    /// all copied first and the sources deleted only after every copy succeeded (on a failure the
    /// copies are removed and the source is left as it was). Replacing an existing file follows the
    /// overwrite rule (`authorizeOverwrite`) and is only done when `replacing` is true; directories
    /// are never merged.
    public func rename(_ source: VirtualPath, to target: VirtualPath, replacing: Bool) throws(SessionError) {
        lastPublished = nil
        let from = try locate(source)
        let to = try locate(target)
        try authorize(.renameSource, from)
        try authorize(.renameTarget, to)
        if from.isFixedDirectory { throw .bindingRoot(source.description) }
        if to.isFixedDirectory { throw .alreadyExists(target.description) }
        let sourceInfo = try stat(from)
        if source == target { return }
        if sourceInfo.isDirectory && target.isInside(source) { throw .renameIntoItself(source.description) }
        let targetInfo: FileInfo?
        do throws(SessionError) {
            // Moving a directory copies every key below it: whether a directory of that name
            // exists now is asked fresh too (a merge would replace another client's files).
            targetInfo = sourceInfo.isDirectory ? try stat(to) : try statBeforeWriting(to)
        } catch .notFound {
            targetInfo = nil
        }
        if let targetInfo {
            if targetInfo.isDirectory || sourceInfo.isDirectory || !replacing { throw .alreadyExists(target.description) }
            try authorizeOverwrite(existingSize: targetInfo.size, keeping: 0, to)
        } else {
            // Like an upload or MKD: the target's directory must exist (a rename never creates one).
            try requireDirectory(target.parent)
        }
        if !target.isRoot {
            directories.learnEntry(target.name, in: try locate(target.parent).directoryIdentity)
        }
        if sourceInfo.isDirectory {
            if !mountedNames(below: source).isEmpty { throw .bindingRoot(source.description) }
            // Directories moved: what this session knew about both places no longer holds.
            directories.forgetAll()
            try renameDirectory(from, to)
        } else {
            try copyObject(from.objectKey, in: from, to: to.objectKey, in: to)
            try storage { () throws(StorageError) in try from.driver.delete([from.objectKey]) }
        }
        logger.info("renamed", metadata: ["user": "\(user.name)", "from": "\(source)", "to": "\(target)"])
    }

    private func renameDirectory(_ from: Location, _ to: Location) throws(SessionError) {
        let sourcePrefix = from.directoryKey
        let targetPrefix = to.directoryKey
        var copiedSources: [ObjectKey] = []
        var copiedTargets: [ObjectKey] = []
        var cursor: ListCursor?
        do {
            repeat {
                let page = try storage { () throws(StorageError) in
                    try from.driver.list(sourcePrefix, delimiter: nil, after: cursor, limit: 1000)
                }
                for object in page.objects {
                    guard KeyBytes.hasPrefix(object.key.key, sourcePrefix.key) else { continue }
                    let rest = KeyBytes.dropping(sourcePrefix.key, from: object.key.key)
                    let targetKey = ObjectKey(bucket: targetPrefix.bucket, key: targetPrefix.key + rest)
                    try copyObject(object.key, in: from, to: targetKey, in: to)
                    copiedSources.append(object.key)
                    copiedTargets.append(targetKey)
                }
                cursor = page.next
            } while cursor != nil
        } catch {
            logger.warning("directory rename failed, removing the copies", metadata: [
                "from": "\(from.path)", "to": "\(to.path)", "copied": "\(copiedTargets.count)", "error": "\(error)"])
            try? deleteInBatches(copiedTargets, driver: to.driver)
            throw error
        }
        // Deepest keys first, so that stores with real directories (local) can remove each one
        // after its contents.
        try deleteInBatches(copiedSources.reversed(), driver: from.driver)
    }

    private func deleteInBatches(_ keys: [ObjectKey], driver: any StorageDriver) throws(SessionError) {
        var start = 0
        while start < keys.count {
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            try storage { () throws(StorageError) in try driver.delete(batch) }
            start += batch.count
        }
    }

    /// Copies one object: server-side within one storage, streamed between two storages. A directory
    /// marker is written anew (some stores keep `dir/` as a real directory that CopyObject cannot copy).
    func copyObject(_ source: ObjectKey, in from: Location, to target: ObjectKey, in to: Location) throws(SessionError) {
        if source.isDirectoryMarker {
            try storage { () throws(StorageError) in
                _ = try to.driver.beginUpload(target, options: UploadOptions()).commit()
            }
            return
        }
        if from.binding.storage == to.binding.storage {
            try storage { () throws(StorageError) in try from.driver.copy(source, to: target) }
            return
        }
        try storage { () throws(StorageError) in
            let reader = try from.driver.openRead(source, from: 0)
            defer { reader.close() }
            try streamCopy(from: reader, into: try to.driver.beginUpload(target, options: UploadOptions()))
        }
    }

    /// Server-side copy of a whole file (SFTP `copy-data`): needs read at the source, write at the
    /// target, and the overwrite rule when the target exists.
    public func copyFile(_ source: VirtualPath, to target: VirtualPath) throws(SessionError) {
        let from = try locate(source)
        let to = try locate(target)
        try authorize(.copySource, from)
        try authorize(.copyTarget, to)
        let info = try stat(from)
        if info.isDirectory { throw .isADirectory(source.description) }
        if to.isFixedDirectory { throw .isADirectory(target.description) }
        do throws(SessionError) {
            let existing = try stat(to)
            if existing.isDirectory { throw SessionError.isADirectory(target.description) }
            try authorizeOverwrite(existingSize: existing.size, keeping: 0, to)
        } catch .notFound {
            try requireDirectory(target.parent)  // a new file: its directory must exist
        }
        try copyObject(from.objectKey, in: from, to: to.objectKey, in: to)
    }
}
