import Foundation

/// SITE (RFC 959 §4.1.3): the server-specific commands clients send. Object storage keeps no Unix
/// modes, so `SITE CHMOD` is acknowledged without effect: `lftp mirror -R` and FileZilla send it
/// after every upload and reported `500 Unknown command` for each file before.
extension FTPConnection {
    func handleSITE(_ argument: String) {
        let (subcommand, rest) = FTPCommandTable.parse(argument)
        switch subcommand {
        case "CHMOD":
            let (mode, path) = FTPCommandTable.parse(rest)
            guard !path.isEmpty, !mode.isEmpty, mode.utf8.count <= 4,
                  mode.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }) else {
                reply(.syntaxErrorInParameters, "Syntax: SITE CHMOD <octal mode> <path>.")
                return
            }
            reply(.commandOkay, "SITE CHMOD accepted without effect: object storage keeps no permissions.")
        case "HELP":
            reply(.helpMessage, lines: ["The following SITE commands are recognized.", "CHMOD HELP", "End"])
        default:
            reply(.parameterNotImplemented, "SITE \(subcommand) is not supported.")
        }
    }
}
