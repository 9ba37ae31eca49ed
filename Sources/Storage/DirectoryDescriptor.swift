#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import PathRules

/// An open directory below the storage root. Every directory the local driver touches is reached by
/// walking from the root's descriptor one plain name at a time with `O_NOFOLLOW | O_DIRECTORY`, so no
/// key can lead outside the root: not `..` (refused by name), not a symbolic link (refused by the
/// kernel), whatever the layers above did with the path. (openat2's `RESOLVE_BENEATH` would give the
/// same guarantee; this walk also runs where that system call is not available.)
///
/// Sendable: both properties are constants, and the *at calls made with the descriptor are safe from
/// any thread (none of them uses the descriptor's file offset; listings read through a `dup`).
final class DirectoryDescriptor: Sendable {
    let fd: Int32
    /// For messages: the path below the root.
    let description: String

    init(fd: Int32, description: String) {
        self.fd = fd
        self.description = description
    }

    deinit { POSIX.close(fd) }

    /// Opens the directory `components` below `base`. Each component must be a plain name (checked
    /// here again, bytewise). Returns nil when a directory on the way does not exist (or is a file)
    /// and `create` is false; with `create`, missing directories are made. A symbolic link on the
    /// way is refused.
    static func open(_ components: some Sequence<String>, below base: DirectoryDescriptor,
                     create: Bool) throws(StorageError) -> DirectoryDescriptor? {
        var current = base
        for name in components {
            if let problem = KeyBytes.problem(withName: name.utf8) {
                throw .invalidKey(detail: "\(name.debugDescription) below \(base.description) is not a plain name (\(problem))")
            }
            let what = current.description + "/" + name
            var fd = Glibc.openat(current.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 && errno == ENOENT && create {
                if Glibc.mkdirat(current.fd, name, 0o755) != 0 && errno != EEXIST {
                    throw POSIX.storageError(errno, what)
                }
                fd = Glibc.openat(current.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if fd < 0 {
                let code = errno
                switch code {
                case ENOENT where !create:
                    return nil
                case ENOTDIR, ELOOP:
                    // O_NOFOLLOW | O_DIRECTORY fails on a link with ELOOP or ENOTDIR: tell them apart.
                    if let info = try POSIX.statAt(current.fd, name, what: what), POSIX.isSymbolicLink(info) {
                        throw .accessDenied(detail: "\(what) is a symbolic link")
                    }
                    if !create { return nil }
                    throw .conflict(detail: "\(what) is a file where a directory is needed")
                default:
                    throw POSIX.storageError(code, what)
                }
            }
            current = DirectoryDescriptor(fd: fd, description: what)
        }
        return current
    }
}
