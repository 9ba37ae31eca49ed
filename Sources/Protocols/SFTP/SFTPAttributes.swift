import Foundation

/// File attributes (draft-02 §5); absent fields are nil.
struct SFTPAttributes: Equatable, Sendable {
    var size: UInt64?
    var ownerGroup: (uid: UInt32, gid: UInt32)?
    var permissions: UInt32?
    var times: (access: UInt32, modification: UInt32)?

    /// The modification time of `times`, as a date.
    var modificationDate: Date? { times.map { Date(timeIntervalSince1970: TimeInterval($0.modification)) } }
    var extended: [(name: String, value: [UInt8])] = []

    static let empty = SFTPAttributes()

    static func == (a: SFTPAttributes, b: SFTPAttributes) -> Bool {
        a.size == b.size && a.ownerGroup?.uid == b.ownerGroup?.uid && a.ownerGroup?.gid == b.ownerGroup?.gid
            && a.permissions == b.permissions && a.times?.access == b.times?.access
            && a.times?.modification == b.times?.modification
            && a.extended.map(\.name) == b.extended.map(\.name) && a.extended.map(\.value) == b.extended.map(\.value)
    }
}

extension SFTPAttributes {
    /// Attributes of a file or directory as SFTP clients see them: size, type and permission bits
    /// derived from the user's authority (never the store's), and the modification time as both
    /// times (object stores keep no access time).
    init(_ info: FileInfo) {
        let p = info.permissions
        var mode: UInt32 = info.isDirectory ? SFTPFileMode.directory : SFTPFileMode.regularFile
        if p.canRead { mode |= 0o444 }
        if p.canWrite { mode |= 0o200 }
        if info.isDirectory { mode |= 0o111 }
        let seconds = UInt32(clamping: Int64(info.modified.timeIntervalSince1970.rounded(.down)))
        self.init(size: info.isDirectory ? 0 : info.size, ownerGroup: nil, permissions: mode, times: (seconds, seconds))
    }
}
