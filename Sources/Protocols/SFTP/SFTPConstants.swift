/// SFTP version 3 wire constants (draft-ietf-secsh-filexfer-02). Code never writes a bare number.
enum SFTPVersion {
    static let supported: UInt32 = 3
}

/// Packet types (draft-02 §3).
enum SFTPPacketType: UInt8, Sendable {
    case initialize = 1
    case version = 2
    case open = 3
    case close = 4
    case read = 5
    case write = 6
    case lstat = 7
    case fstat = 8
    case setstat = 9
    case fsetstat = 10
    case opendir = 11
    case readdir = 12
    case remove = 13
    case mkdir = 14
    case rmdir = 15
    case realpath = 16
    case stat = 17
    case rename = 18
    case readlink = 19
    case symlink = 20
    case status = 101
    case handle = 102
    case data = 103
    case name = 104
    case attributes = 105
    case extended = 200
    case extendedReply = 201
}

/// Status codes (draft-02 §7).
public enum SFTPStatusCode: UInt32, Sendable {
    case ok = 0
    case endOfFile = 1
    case noSuchFile = 2
    case permissionDenied = 3
    case failure = 4
    case badMessage = 5
    case noConnection = 6
    case connectionLost = 7
    case operationUnsupported = 8
}

/// SSH_FXF_* open flags (draft-02 §6.3).
struct SFTPOpenFlags: OptionSet, Sendable {
    let rawValue: UInt32
    static let read = SFTPOpenFlags(rawValue: 0x01)
    static let write = SFTPOpenFlags(rawValue: 0x02)
    static let append = SFTPOpenFlags(rawValue: 0x04)
    static let create = SFTPOpenFlags(rawValue: 0x08)
    static let truncate = SFTPOpenFlags(rawValue: 0x10)
    static let exclusive = SFTPOpenFlags(rawValue: 0x20)
}

/// SSH_FILEXFER_ATTR_* flags (draft-02 §5).
struct SFTPAttributeFlags: OptionSet, Sendable {
    let rawValue: UInt32
    static let size = SFTPAttributeFlags(rawValue: 0x0000_0001)
    static let ownerGroup = SFTPAttributeFlags(rawValue: 0x0000_0002)
    static let permissions = SFTPAttributeFlags(rawValue: 0x0000_0004)
    static let accessModificationTime = SFTPAttributeFlags(rawValue: 0x0000_0008)
    static let extended = SFTPAttributeFlags(rawValue: 0x8000_0000)
}

/// POSIX file-type bits carried in the permissions attribute.
enum SFTPFileMode {
    static let typeMask: UInt32 = 0o170000
    static let directory: UInt32 = 0o040000
    static let regularFile: UInt32 = 0o100000
}
