import Foundation
@testable import Protocols
import Testing

/// The exec command lines a legacy scp client sends, and everything else that must be refused.
@Suite struct SCPCommandTests {
    @Test func acceptsScpCommandLines() {
        #expect(SCPCommand.parse("scp -t -- /a/b") == SCPCommand(direction: .toServer, paths: ["/a/b"]))
        #expect(SCPCommand.parse("scp -r -p -d -t -- 'dir with space'")
            == SCPCommand(direction: .toServer, recursive: true, preserveTimes: true, targetIsDirectory: true,
                          paths: ["dir with space"]))
        #expect(SCPCommand.parse("scp -v -f -- a \"b c\" d\\ e")
            == SCPCommand(direction: .fromServer, paths: ["a", "b c", "d e"]))
        #expect(SCPCommand.parse("scp -pf x")?.preserveTimes == true)
        #expect(SCPCommand.parse("scp -t .") == SCPCommand(direction: .toServer, paths: ["."]))
        #expect(SCPCommand.parse("scp -f -- '-dash'")?.paths == ["-dash"])
    }

    @Test func refusesEverythingElse() {
        for line in ["ls", "cat /etc/passwd", "scp", "scp -t", "scp -f", "scp -t a b", "scp -tf x", "scp -x -t a",
                     "scp -t 'open", "sh -c 'scp -t x'", "scp -S /bin/sh -t x", "/usr/bin/scp -t x", ""] {
            #expect(SCPCommand.parse(line) == nil, "\(line)")
        }
    }

    @Test func shellWordsFollowPOSIXQuoting() {
        #expect(SCPCommand.shellWords(#"a 'b c' "d \"e\" \$f" g\ h"#) == ["a", "b c", #"d "e" $f"#, "g h"])
        #expect(SCPCommand.shellWords("  spaced   out  ") == ["spaced", "out"])
        #expect(SCPCommand.shellWords("''") == [""])
        #expect(SCPCommand.shellWords("\"unclosed") == nil)
    }

    @Test func controlLinesSplitOnBytesAndTimesStayInRange() {
        #expect(SCPSession.parseEntry("0644 5 \u{301}name.txt")?.name == "\u{301}name.txt")  // a combining mark first
        #expect(SCPSession.parseEntry("0644 5 with space.txt")?.name == "with space.txt")
        #expect(SCPSession.parseEntry("0644 +5 x") == nil)
        #expect(SCPSession.parseEntry("644 5 x") == nil)
        #expect(SCPSession.parseTimes("1354040105 0 1354040105 0") == Date(timeIntervalSince1970: 1_354_040_105))
        #expect(SCPSession.parseTimes("999999999999 0 0 0") == nil)  // beyond year 9999
        #expect(SCPSession.parseTimes("253402300799 0 0 0") != nil)  // the last second of 9999
        #expect(SCPSession.parseTimes("1354040105 0") == nil)
    }
}
