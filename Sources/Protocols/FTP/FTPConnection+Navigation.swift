import Digests
import Foundation

/// Working directory, transfer parameters and informational commands.
extension FTPConnection {
    func handlePWD() {
        reply(.pathnameCreated, "\(Self.quoted(workingDirectory)) is the current directory")
    }

    func handleCWD(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "CWD") else { return }
        do {
            let info = try session.statExpectingDirectory(path)
            guard info.isDirectory else {
                reply(for: .notADirectory(path.description), command: "CWD")
                return
            }
            workingDirectory = path
            reply(.fileActionOkay, "Directory successfully changed.")
        } catch {
            reply(for: error, command: "CWD")
        }
    }

    func handleCDUP() {
        workingDirectory = workingDirectory.parent
        reply(.fileActionOkay, "Directory successfully changed.")
    }

    func handleTYPE(_ argument: String) {
        let words = argument.uppercased().split(separator: " ")
        switch words.first {
        case "A" where words.count == 1 || words[1] == "N":
            transferType = .ascii
            reply(.commandOkay, "Switching to ASCII mode.")
        case "I" where words.count == 1, "L" where words.count == 2 && words[1] == "8":
            transferType = .binary
            reply(.commandOkay, "Switching to Binary mode.")
        case "A", "E", "L":
            reply(.parameterNotImplemented, "Unsupported TYPE parameter.")
        default:
            reply(.syntaxErrorInParameters, "Unrecognised TYPE command.")
        }
    }

    func handleMODE(_ argument: String) {
        if argument.uppercased() == "S" {
            reply(.commandOkay, "Mode set to S.")
        } else {
            reply(.parameterNotImplemented, "Only stream mode (S) is supported.")
        }
    }

    func handleSTRU(_ argument: String) {
        if argument.uppercased() == "F" {
            reply(.commandOkay, "Structure set to F.")
        } else {
            reply(.parameterNotImplemented, "Only file structure (F) is supported.")
        }
    }

    func handleSYST() {
        reply(.systemType, "UNIX Type: L8")
    }

    func handleNOOP() {
        reply(.commandOkay, "NOOP ok.")
    }

    func handleALLO() {
        reply(.commandSuperfluous, "ALLO command ignored.")
    }

    /// RFC 2389 §3: features, one per line, each preceded by a space.
    func handleFEAT() {
        let tls = context.settings.tls
        // `tls = "off"` beside an implicit-TLS listener: AUTH only where it is accepted.
        // (On an implicit-TLS connection AUTH answers 503, already protected: not offered there.)
        let authAccepted = !implicitTLS && (tls.map { $0.policy != .off } ?? false)
        let tlsAvailable = authAccepted || (tls != nil && implicitTLS)
        let features = FTPCommandTable.commands.compactMap { spec -> String? in
            switch spec.feature {
            case .none: nil
            case .always(let line): line
            case .whereAuthTLSIsAccepted(let line): authAccepted ? line : nil
            case .whereTLSIsAvailable(let line): tlsAvailable ? line : nil
            case .mlstFacts: "MLST " + FTPFact.allCases.map { $0.name + (selectedFacts.contains($0) ? "*" : "") + ";" }.joined()
            case .hashAlgorithms:
                "HASH " + ChecksumAlgorithm.allCases.map { $0.rawValue + ($0 == selectedHash ? "*" : "") }.joined(separator: ";")
            }
        }
        reply(.systemStatus, lines: ["Features:"] + features.sorted() + ["End"])
    }

    func handleOPTS(_ argument: String) {
        let (option, value) = FTPCommandTable.parse(argument)
        switch option {
        case "UTF8", "UTF-8":
            // Ferry always speaks UTF-8 (RFC 2640); OFF is acknowledged but changes nothing.
            reply(.commandOkay, "Always in UTF8 mode.")
        case "MLST":
            let selection = FTPArguments.mlstFacts(value)
            selectedFacts = selection
            let names = FTPFact.allCases.filter { selection.contains($0) }.map { $0.name + ";" }.joined()
            reply(.commandOkay, "MLST OPTS \(names)")
        case "HASH":
            // draft-bryan-ftpext-hash-02 §3.2: without a value, the current algorithm.
            if value.isEmpty {
                reply(.commandOkay, selectedHash.rawValue)
            } else if let algorithm = ChecksumAlgorithm(ftpName: value) {
                selectedHash = algorithm
                reply(.commandOkay, algorithm.rawValue)
            } else {
                reply(.syntaxErrorInParameters, "Unknown algorithm; choose one of " +
                      ChecksumAlgorithm.allCases.map(\.rawValue).joined(separator: ", ") + ".")
            }
        default:
            reply(.syntaxErrorInParameters, "Option not understood.")
        }
    }

    func handleHELP(_ argument: String) {
        if !argument.isEmpty, let spec = FTPCommandTable.byVerb[argument.uppercased()] {
            reply(.helpMessage, "Syntax: \(spec.help)")
            return
        }
        var lines = ["The following commands are recognized."]
        let verbs = FTPCommandTable.commands.flatMap { [$0.verb] + $0.aliases }
        var index = 0
        while index < verbs.count {
            lines.append(verbs[index..<min(index + 8, verbs.count)].map { $0.padding(toLength: 5, withPad: " ", startingAt: 0) }.joined(separator: " "))
            index += 8
        }
        lines.append("Help OK.")
        reply(.helpMessage, lines: lines)
    }

    /// STAT without argument: connection status (RFC 959 §4.1.3); with a path: its listing on the
    /// control connection.
    func handleSTAT(_ argument: String) {
        guard let session else { return }
        if argument.isEmpty {
            reply(.systemStatus, lines: [
                "Ferry FTP server status:",
                "Connected to \(clientAddress.host)",
                "Logged in as \(session.user.name)",
                "TYPE: \(transferType == .ascii ? "ASCII" : "BINARY"), MODE: Stream, STRUcture: File",
                "Session timeout in seconds is \(Int(context.settings.idleTimeout))",
                "End of status",
            ])
            return
        }
        let request = FTPListRequest(argument: argument)
        guard let path = resolvePath(request.path, command: "STAT") else { return }
        var lines = ["Status of \(path):"]
        let now = Date()
        do {
            try forEachListed(path, request: request, session: session) { info in
                lines.append(FTPListingFormat.longLine(info, now: now))
                return lines.count < 10_000
            }
            lines.append("End of status")
            reply(.fileStatus, lines: lines)
        } catch {
            reply(for: error, command: "STAT")
        }
    }
}
