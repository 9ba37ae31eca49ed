extension SFTPRequest {
    /// The request's name as the log shows it (draft-02 §3: the SSH_FXP_ type without its prefix;
    /// an extension by its own name).
    var typeName: String {
        switch self {
        case .initialize: "init"
        case .open: "open"
        case .close: "close"
        case .read: "read"
        case .write: "write"
        case .lstat: "lstat"
        case .fstat: "fstat"
        case .setstat: "setstat"
        case .fsetstat: "fsetstat"
        case .opendir: "opendir"
        case .readdir: "readdir"
        case .remove: "remove"
        case .mkdir: "mkdir"
        case .rmdir: "rmdir"
        case .realpath: "realpath"
        case .stat: "stat"
        case .rename: "rename"
        case .readlink: "readlink"
        case .symlink: "symlink"
        case .extended(_, let name, _): name
        }
    }

    /// The path a failed request named, as the client sent it (bytes that are not UTF-8 are shown
    /// replaced): so that an exchange can be followed from the log alone.
    var pathForLog: String? {
        let bytes: [UInt8]? = switch self {
        case .open(_, let path, _, _), .lstat(_, let path), .setstat(_, let path, _), .opendir(_, let path),
             .remove(_, let path), .mkdir(_, let path, _), .rmdir(_, let path), .realpath(_, let path),
             .stat(_, let path), .readlink(_, let path):
            path
        case .rename(_, let from, _):
            from
        case .symlink(_, let linkPath, _):
            linkPath
        case .initialize, .close, .read, .write, .fstat, .fsetstat, .readdir, .extended:
            nil
        }
        return bytes.map { String(decoding: $0, as: UTF8.self) }
    }
}
