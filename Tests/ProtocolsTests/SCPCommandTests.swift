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
}
