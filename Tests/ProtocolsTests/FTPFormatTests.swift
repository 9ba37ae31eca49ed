import Foundation
@testable import Protocols
import Testing

@Suite struct FTPParsingTests {
    @Test func splitsVerbAndArgument() {
        #expect(FTPCommandTable.parse("retr my file.txt") == ("RETR", "my file.txt"))
        #expect(FTPCommandTable.parse("NOOP") == ("NOOP", ""))
        #expect(FTPCommandTable.parse("STOR  two spaces") == ("STOR", " two spaces"))
        #expect(FTPCommandTable.parse("xpwd") == ("XPWD", ""))
        // Split on the byte: a space and a combining mark are one Character.
        #expect(FTPCommandTable.parse("STOR \u{301}x.txt") == ("STOR", "\u{301}x.txt"))
        #expect(FTPCommandTable.parse("  list \u{301}") == ("LIST", "\u{301}"))
    }

    @Test func everyVerbAndAliasIsInTheTable() {
        let verbs = ["USER", "PASS", "QUIT", "SYST", "FEAT", "OPTS", "HELP", "NOOP", "STAT", "PWD", "CWD", "CDUP", "TYPE",
                     "MODE", "STRU", "PASV", "EPSV", "PORT", "EPRT", "LIST", "NLST", "MLSD", "MLST", "RETR", "STOR", "STOU",
                     "APPE", "REST", "ABOR", "DELE", "RMD", "MKD", "RNFR", "RNTO", "SIZE", "MDTM", "AUTH", "PBSZ", "PROT",
                     "CCC", "ALLO", "XPWD", "XCWD", "XCUP", "XMKD", "XRMD"]
        for verb in verbs { #expect(FTPCommandTable.byVerb[verb] != nil, "\(verb) missing") }
        let beforeLogin = FTPCommandTable.commands.filter(\.allowedBeforeLogin).map(\.verb).sorted()
        #expect(beforeLogin == ["AUTH", "FEAT", "HELP", "NOOP", "OPTS", "PASS", "PBSZ", "PROT", "QUIT", "SYST", "USER"])
    }

    /// The policy columns, row by row: which verbs mask, follow, interrupt or report, and FEAT's lines.
    @Test func policyColumnsAreData() {
        let commands = FTPCommandTable.commands
        #expect(commands.filter(\.masksArgument).map(\.verb) == ["PASS"])
        #expect(commands.compactMap { spec in spec.mustFollow.map { "\(spec.verb) after \($0)" } } == ["RNTO after RNFR"])
        let aborting = commands.filter { if case .abortsTheTransfer = $0.duringTransfer { true } else { false } }
        let reporting = commands.filter { if case .reportsProgress = $0.duringTransfer { true } else { false } }
        #expect(aborting.map(\.verb) == ["ABOR"] && reporting.map(\.verb) == ["STAT"])
        let always = commands.compactMap { spec -> String? in if case .always(let line) = spec.feature { line } else { nil } }
        #expect(always.sorted() == ["EPRT", "EPSV", "MDTM", "MFMT", "PASV", "REST STREAM", "SIZE", "TVFS", "UTF8", "XCRC", "XMD5", "XSHA1", "XSHA256"])
    }

    @Test func listArgumentsDropLsOptionsAndFindPatterns() {
        let plain = FTPListRequest(argument: "-la")
        #expect(plain.path == "." && plain.pattern == nil)
        let withPath = FTPListRequest(argument: "-a -l some dir")
        #expect(withPath.path == "some dir" && withPath.pattern == nil)
        let pattern = FTPListRequest(argument: "dir/*.txt")
        #expect(pattern.path == "dir/" && pattern.pattern == "*.txt")
        #expect(pattern.matches("a.txt") && !pattern.matches("a.bin"))
        let bare = FTPListRequest(argument: "*.log")
        #expect(bare.path == "." && bare.pattern == "*.log")
    }

    @Test func multiLineRepliesFollowRFC959() {
        #expect(FTPReply(.commandOkay, "ok").wireText == "200 ok\r\n")
        #expect(FTPReply(.systemStatus, lines: ["Features:", "UTF8", "End"]).wireText == "211-Features:\r\n UTF8\r\n211 End\r\n")
        // A name containing CR/LF can never inject a reply line.
        #expect(FTPReply(.fileUnavailable, "bad\r\n230 fake").wireText == "550 bad  230 fake\r\n")
    }
}

@Suite struct FTPListingFormatTests {
    static let permissions = FilePermissions(canRead: true, canWrite: true, canDelete: true)
    static let stamp = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-17T...Z

    @Test func lsLongFormat() {
        let file = FileInfo(name: "report final.pdf", isDirectory: false, size: 1234, modified: Self.stamp, permissions: Self.permissions)
        let line = FTPListingFormat.longLine(file, now: Self.stamp.addingTimeInterval(3600))
        #expect(line.hasPrefix("-rw-r--r--    1 ftp      ftp              1234 Nov 1"))
        #expect(line.hasSuffix(" report final.pdf"))
        #expect(line.contains(":"))  // recent: time, not year
        let old = FTPListingFormat.longLine(file, now: Self.stamp.addingTimeInterval(400 * 86_400))
        #expect(old.contains(" 2026 report final.pdf"))
        let readOnlyDirectory = FileInfo(name: "d", isDirectory: true, size: 0, modified: Self.stamp,
                                         permissions: FilePermissions(canRead: true, canWrite: false, canDelete: false))
        #expect(FTPListingFormat.longLine(readOnlyDirectory, now: Self.stamp).hasPrefix("dr-xr-xr-x"))
    }

    @Test func mlsdFacts() {
        let file = FileInfo(name: "a.txt", isDirectory: false, size: 42, modified: Date(timeIntervalSince1970: 0), permissions: Self.permissions)
        #expect(FTPListingFormat.factLine(file, facts: FTPFact.defaultSelection) == "type=file;size=42;modify=19700101000000;perm=rawfd; a.txt")
        #expect(FTPListingFormat.factLine(file, facts: [.size]) == "size=42; a.txt")
        let directory = FileInfo(name: "d", isDirectory: true, size: 0, modified: Date(timeIntervalSince1970: 86_399),
                                 permissions: FilePermissions(canRead: true, canWrite: false, canDelete: false))
        #expect(FTPListingFormat.factLine(directory, facts: FTPFact.defaultSelection) == "type=dir;size=0;modify=19700101235959;perm=el; d")
        // A writer without the delete flag: no `w` (STOR over it is refused), unless the file is empty.
        let writer = FilePermissions(canRead: true, canWrite: true, canDelete: false)
        let stored = FileInfo(name: "s", isDirectory: false, size: 3, modified: Date(timeIntervalSince1970: 0), permissions: writer)
        let empty = FileInfo(name: "e", isDirectory: false, size: 0, modified: Date(timeIntervalSince1970: 0), permissions: writer)
        #expect(FTPListingFormat.permFact(stored) == "raf" && FTPListingFormat.permFact(empty) == "rawf")
    }
}

@Suite struct ASCIIConversionTests {
    static func toNetwork(_ chunks: [String]) -> String {
        var converter = ASCIIConverter()
        var out: [UInt8] = []
        var all: [UInt8] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { converter.toNetwork($0, into: &out) }
            all += out
        }
        return String(decoding: all, as: UTF8.self)
    }

    static func fromNetwork(_ chunks: [String]) -> String {
        var converter = ASCIIConverter()
        var out: [UInt8] = []
        var all: [UInt8] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { converter.fromNetwork($0, into: &out) }
            all += out
        }
        all += converter.finishFromNetwork()
        return String(decoding: all, as: UTF8.self)
    }

    @Test func lineFeedsBecomeCRLFOnDownload() {
        #expect(Self.toNetwork(["a\nb\n"]) == "a\r\nb\r\n")
        #expect(Self.toNetwork(["a\r\nb"]) == "a\r\nb")          // already CRLF: unchanged
        #expect(Self.toNetwork(["a\r", "\nb\n"]) == "a\r\nb\r\n")  // CR and LF in different chunks
    }

    @Test func crlfBecomesLineFeedOnUpload() {
        #expect(Self.fromNetwork(["a\r\nb\r\n"]) == "a\nb\n")
        #expect(Self.fromNetwork(["a\r", "\nb"]) == "a\nb")      // split across chunks
        #expect(Self.fromNetwork(["lone\rcr"]) == "lone\rcr")
        #expect(Self.fromNetwork(["end\r"]) == "end\r")          // a final lone CR is kept
    }
}
