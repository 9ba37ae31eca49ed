internal import CLibSSH

/// libssh's process-wide state: `ssh_init` runs once at startup (`CLibraries.initialize`).
enum LibSSH {
    private static let initialization: Bool = ssh_init() == SSH_OK

    /// Initialises libssh (idempotent); false when its crypto back end cannot start.
    static func initialize() -> Bool { initialization }
}
