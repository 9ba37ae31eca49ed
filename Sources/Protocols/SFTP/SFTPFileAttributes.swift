import Foundation

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

extension SFTPNameEntry {
    /// A READDIR entry with OpenSSH's `ls -l` style long name.
    init(_ info: FileInfo, now: Date) {
        self.init(filename: Array(info.name.utf8), longname: LongListing.line(info, now: now), attributes: SFTPAttributes(info))
    }
}
