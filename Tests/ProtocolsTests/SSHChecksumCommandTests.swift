import Digests
import Foundation
@testable import Protocols
import Testing

/// The checksum commands rclone's sftp backend runs over exec, and their output lines.
@Suite struct SSHChecksumCommandTests {
    @Test func parsesRclonesForms() {
        #expect(SSHChecksumCommand.parse("md5sum") == SSHChecksumCommand(algorithm: .md5, program: "md5sum", paths: []))
        #expect(SSHChecksumCommand.parse("sha1sum /a/b") == SSHChecksumCommand(algorithm: .sha1, program: "sha1sum", paths: ["/a/b"]))
        // rclone escapes every byte outside a safe set with a backslash, and quotes a newline.
        #expect(SSHChecksumCommand.parse(#"sha256sum /dir/we\ ird\$name\ \'q\'.bin"#)?.paths == ["/dir/we ird$name 'q'.bin"])
        #expect(SSHChecksumCommand.parse("md5sum /a'\n'b")?.paths == ["/a\nb"])
        #expect(SSHChecksumCommand.parse("md5sum -- -dash - x")?.paths == ["-dash", "-", "x"])
        #expect(SSHChecksumCommand.parse("md5sum /ünï/文件")?.paths == ["/ünï/文件"])
    }

    @Test func refusesEverythingElse() {
        for line in ["md5 -r", "rclone md5sum", "md5sum -c sums", "sha1sum --tag x", "sha512sum x", "md5sum 'open",
                     "echo ${ShellId}%ComSpec%", "", "MD5SUM x", "md5sum\u{301} x"] {
            #expect(SSHChecksumCommand.parse(line) == nil, "\(line)")
        }
    }

    @Test func writesGNULines() throws {
        let digest = try Digest.sha256([])
        let hex = Digest.hex(digest)
        #expect(SSHChecksumCommand.line(digest: digest, name: "-") == Array("\(hex)  -\n".utf8))
        #expect(SSHChecksumCommand.line(digest: digest, name: "/a b") == Array("\(hex)  /a b\n".utf8))
        // A backslash or newline in the name: escaped, and the line starts with a backslash.
        #expect(SSHChecksumCommand.line(digest: digest, name: "a\\b\nc") == Array("\\\(hex)  a\\\\b\\nc\n".utf8))
    }

    @Test func execRequestsChooseTheirService() {
        if case .scp = SSHService.exec("scp -t /x") {} else { Issue.record("scp") }
        if case .checksum = SSHService.exec("md5sum /x") {} else { Issue.record("md5sum") }
        if case .unavailable(let request, let detail) = SSHService.exec("rm -rf /") {
            #expect(request == "exec" && detail == "rm -rf /")
        } else {
            Issue.record("other command")
        }
    }
}
