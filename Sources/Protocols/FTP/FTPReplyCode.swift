/// FTP reply codes used by Ferry, named after what they mean (RFC 959 §4.2, RFC 2228, RFC 2428,
/// RFC 3659, RFC 4217). Code never writes a bare number.
public enum FTPReplyCode: Int, Sendable {
    case fileStatusOkay = 150                 // about to open the data connection
    case commandOkay = 200
    case commandSuperfluous = 202             // ALLO: nothing to allocate
    case systemStatus = 211
    case directoryStatus = 212
    case fileStatus = 213
    case helpMessage = 214
    case systemType = 215
    case serviceReady = 220
    case closingControlConnection = 221
    case dataConnectionOpenNoTransfer = 225   // ABOR with no transfer in progress
    case closingDataConnection = 226          // transfer complete
    case enteringPassiveMode = 227
    case enteringExtendedPassiveMode = 229
    case userLoggedIn = 230
    case securityDataExchangeComplete = 234   // AUTH TLS accepted (RFC 4217)
    case fileActionOkay = 250
    case pathnameCreated = 257
    case userNameOkayNeedPassword = 331
    case fileActionPendingFurtherInformation = 350
    case serviceNotAvailable = 421
    case cannotOpenDataConnection = 425
    case connectionClosedTransferAborted = 426
    case fileActionNotTakenBusy = 450
    case localErrorInProcessing = 451
    case insufficientStorageSpace = 452
    case syntaxError = 500
    case syntaxErrorInParameters = 501
    case commandNotImplemented = 502
    case badSequenceOfCommands = 503
    case parameterNotImplemented = 504
    case networkProtocolNotSupported = 522    // EPRT/EPSV with another address family (RFC 2428)
    case notLoggedIn = 530
    case requestDeniedForPolicyReasons = 534  // RFC 2228
    case fileUnavailable = 550
    case exceededStorageAllocation = 552
    case fileNameNotAllowed = 553
    case invalidRestartPosition = 554         // REST beyond the end (RFC 3659 §5.5)
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
