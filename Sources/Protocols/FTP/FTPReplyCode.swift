/// FTP reply codes used by Ferry, named after what they mean (RFC 959 §4.2, RFC 2228, RFC 2428,
/// RFC 3659, RFC 4217). Code never writes a bare number. A struct rather than an enum: RFC 2428 and
/// RFC 4217 give 522 two meanings, and each gets its own name.
public struct FTPReplyCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let fileStatusOkay = FTPReplyCode(rawValue: 150)                 // about to open the data connection
    public static let commandOkay = FTPReplyCode(rawValue: 200)
    public static let commandSuperfluous = FTPReplyCode(rawValue: 202)             // ALLO: nothing to allocate
    public static let systemStatus = FTPReplyCode(rawValue: 211)
    public static let directoryStatus = FTPReplyCode(rawValue: 212)
    public static let fileStatus = FTPReplyCode(rawValue: 213)
    public static let helpMessage = FTPReplyCode(rawValue: 214)
    public static let systemType = FTPReplyCode(rawValue: 215)
    public static let serviceReady = FTPReplyCode(rawValue: 220)
    public static let closingControlConnection = FTPReplyCode(rawValue: 221)
    public static let dataConnectionOpenNoTransfer = FTPReplyCode(rawValue: 225)   // ABOR with no transfer in progress
    public static let closingDataConnection = FTPReplyCode(rawValue: 226)          // transfer complete
    public static let enteringPassiveMode = FTPReplyCode(rawValue: 227)
    public static let enteringExtendedPassiveMode = FTPReplyCode(rawValue: 229)
    public static let userLoggedIn = FTPReplyCode(rawValue: 230)
    public static let securityDataExchangeComplete = FTPReplyCode(rawValue: 234)   // AUTH TLS accepted (RFC 4217)
    public static let fileActionOkay = FTPReplyCode(rawValue: 250)
    public static let pathnameCreated = FTPReplyCode(rawValue: 257)
    public static let userNameOkayNeedPassword = FTPReplyCode(rawValue: 331)
    public static let fileActionPendingFurtherInformation = FTPReplyCode(rawValue: 350)
    public static let serviceNotAvailable = FTPReplyCode(rawValue: 421)
    public static let cannotOpenDataConnection = FTPReplyCode(rawValue: 425)
    public static let connectionClosedTransferAborted = FTPReplyCode(rawValue: 426)
    public static let fileActionNotTakenBusy = FTPReplyCode(rawValue: 450)
    public static let localErrorInProcessing = FTPReplyCode(rawValue: 451)
    public static let insufficientStorageSpace = FTPReplyCode(rawValue: 452)
    public static let syntaxError = FTPReplyCode(rawValue: 500)
    public static let syntaxErrorInParameters = FTPReplyCode(rawValue: 501)
    public static let commandNotImplemented = FTPReplyCode(rawValue: 502)
    public static let badSequenceOfCommands = FTPReplyCode(rawValue: 503)
    public static let parameterNotImplemented = FTPReplyCode(rawValue: 504)
    public static let networkProtocolNotSupported = FTPReplyCode(rawValue: 522)    // EPRT/EPSV with another address family (RFC 2428)
    public static let notLoggedIn = FTPReplyCode(rawValue: 530)
    public static let requestDeniedForPolicyReasons = FTPReplyCode(rawValue: 534)  // RFC 2228
    public static let fileUnavailable = FTPReplyCode(rawValue: 550)
    public static let exceededStorageAllocation = FTPReplyCode(rawValue: 552)
    public static let fileNameNotAllowed = FTPReplyCode(rawValue: 553)
    public static let invalidRestartPosition = FTPReplyCode(rawValue: 554)         // REST beyond the end (RFC 3659 §5.5)
    public static let dataProtectionLevelNotAccepted = FTPReplyCode(rawValue: 521)  // RFC 4217 §9: PROT C refused
    public static let tlsNegotiationFailed = FTPReplyCode(rawValue: 522)           // RFC 4217 §10: data TLS failed
}

/// One reply: a code and one or more lines of text (RFC 959 §4.2 multi-line form for more than one).
public struct FTPReply: Sendable, Equatable {
    public var code: FTPReplyCode
    public var lines: [String]

    public init(_ code: FTPReplyCode, _ text: String) {
        self.code = code
        self.lines = [text]
    }

    public init(_ code: FTPReplyCode, lines: [String]) {
        self.code = code
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// The wire form. Continuation lines start with a space so that a line beginning with digits is
    /// never mistaken for the end of the reply.
    public var wireText: String {
        let code = String(self.code.rawValue)
        let cleaned = lines.map { $0.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") }
        guard cleaned.count > 1 else { return "\(code) \(cleaned[0])\r\n" }
        var text = "\(code)-\(cleaned[0])\r\n"
        for line in cleaned.dropFirst().dropLast() { text += " \(line)\r\n" }
        text += "\(code) \(cleaned[cleaned.count - 1])\r\n"
        return text
    }
}
