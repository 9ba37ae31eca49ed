/// One row of the command table: the verb, its aliases, whether it is allowed before login, its
/// argument, and the handler. Policy lives here as data; handlers never re-check it.
struct FTPCommandSpec: Sendable {
    let verb: String
    let aliases: [String]
    let allowedBeforeLogin: Bool
    let argument: FTPArgumentKind
    let help: String
    /// The argument is a secret: the log shows `****` instead (PASS).
    var masksArgument = false
    /// The command that must come immediately before this one, else 503 (RNTO after RNFR, RFC 959
    /// §4.1.3).
    var mustFollow: String? = nil
    var duringTransfer = FTPDuringTransfer.waits
    var feature = FTPFeature.none
    let handler: @Sendable (FTPConnection, String) -> Void

    init(verb: String, aliases: [String], allowedBeforeLogin: Bool, argument: FTPArgumentKind, help: String,
         masksArgument: Bool = false, mustFollow: String? = nil, duringTransfer: FTPDuringTransfer = .waits,
         feature: FTPFeature = .none, handler: @escaping @Sendable (FTPConnection, String) -> Void) {
        self.verb = verb
        self.aliases = aliases
        self.allowedBeforeLogin = allowedBeforeLogin
        self.argument = argument
        self.help = help
        self.masksArgument = masksArgument
        self.mustFollow = mustFollow
        self.duringTransfer = duringTransfer
        self.feature = feature
        self.handler = handler
    }
}

/// Whether a command takes an argument.
enum FTPArgumentKind: Sendable {
    case none
    case optional
    case required
}

/// What a command does when it arrives while a data transfer runs (RFC 959 §4.1.3: ABOR and STAT
/// are the commands a client may send during a transfer).
enum FTPDuringTransfer: Sendable {
    /// Waits until the transfer has finished, then runs as usual.
    case waits
    /// Ends the transfer (426, then 226).
    case abortsTheTransfer
    /// Answered at once with the transfer's progress (213).
    case reportsProgress
}

/// What a command contributes to the FEAT reply (RFC 2389 §3).
enum FTPFeature: Sendable {
    case none
    /// This line, always.
    case always(String)
    /// This line where FTPS can be started explicitly (AUTH TLS accepted on this connection).
    case whereAuthTLSIsAccepted(String)
    /// This line on any connection that is or can become TLS (PBSZ, PROT).
    case whereTLSIsAvailable(String)
    /// `MLST` followed by the facts, the selected ones starred (RFC 3659 §7.8).
    case mlstFacts
    /// `HASH` followed by the algorithms, the selected one starred (draft-bryan-ftpext-hash-02 §3.1).
    case hashAlgorithms
}
