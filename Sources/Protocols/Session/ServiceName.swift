/// The service a session speaks, as metrics labels, logs and the transfer log name it (FTPS counts
/// as `ftp`; an SSH connection is `sftp` until its channel asks for scp).
public enum ServiceName: String, Sendable, CaseIterable {
    case ftp, sftp, scp
}
