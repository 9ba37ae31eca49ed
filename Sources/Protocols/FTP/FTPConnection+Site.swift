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
        case "UTIME":
            handleSiteUTIME(rest)
        case "HELP":
            reply(.helpMessage, lines: ["The following SITE commands are recognized.", "CHMOD UTIME HELP", "End"])
        default:
            reply(.parameterNotImplemented, "SITE \(subcommand) is not supported.")
        }
    }

    /// SITE UTIME in its two common forms: `SITE UTIME <YYYYMMDDHHMMSS> <path>` and ProFTPD's
    /// `SITE UTIME <path> <atime> <mtime> <ctime> UTC` (only the modification time is kept).
    func handleSiteUTIME(_ argument: String) {
        // The five-argument form first (its path may start with something that looks like a time):
        // the path may hold spaces, the four last words are the three times and UTC.
        let words = argument.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
        let word = { (index: Int) in String(decoding: words[index], as: UTF8.self) }
        if words.count >= 5, word(words.count - 1).uppercased() == "UTC",
           FTPArguments.modificationTime(word(words.count - 4)) != nil, FTPArguments.modificationTime(word(words.count - 2)) != nil,
           let date = FTPArguments.modificationTime(word(words.count - 3)) {
            let path = String(decoding: Array(words[..<(words.count - 4)].joined(separator: [0x20])), as: UTF8.self)
            if !path.isEmpty {
                setModificationTime(date, pathText: path, command: "SITE UTIME") { _ in
                    reply(.commandOkay, "Modification time set.")
                }
                return
            }
        }
        let (first, rest) = FTPCommandTable.parse(argument)
        if let date = FTPArguments.modificationTime(first), !rest.isEmpty {
            setModificationTime(date, pathText: rest, command: "SITE UTIME") { _ in
                reply(.commandOkay, "Modification time set.")
            }
            return
        }
        reply(.syntaxErrorInParameters, "Syntax: SITE UTIME <YYYYMMDDHHMMSS> <path>, or SITE UTIME <path> <atime> <mtime> <ctime> UTC.")
    }
}
