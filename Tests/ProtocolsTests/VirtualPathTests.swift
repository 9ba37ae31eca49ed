@testable import Protocols
import Testing

@Suite struct VirtualPathTests {
    static func resolve(_ input: String, from cwd: String = "/home/dir") throws -> String {
        let directory = try VirtualPath.resolve(cwd)
        return try VirtualPath.resolve(input, from: directory).description
    }

    @Test func normalisesDotsAndSlashes() throws {
        #expect(try Self.resolve("a/b") == "/home/dir/a/b")
        #expect(try Self.resolve("/a//b///c/") == "/a/b/c")
        #expect(try Self.resolve("./a/./b/.") == "/home/dir/a/b")
        #expect(try Self.resolve("a/../b") == "/home/dir/b")
        #expect(try Self.resolve("") == "/home/dir")
        #expect(try Self.resolve("/") == "/")
    }

    /// A traversal corpus: nothing ever climbs above the virtual root, and nothing is decoded.
    @Test(arguments: [
        ("..", "/home"),
        ("../..", "/"),
        ("../../..", "/"),
        ("../../../../../../etc/passwd", "/etc/passwd"),
        ("/../etc/passwd", "/etc/passwd"),
        ("/../../..", "/"),
        ("a/../../../..", "/"),
        ("%2e%2e/%2e%2e", "/home/dir/%2e%2e/%2e%2e"),
        ("..\\..\\etc\\passwd", "/home/dir/..\\..\\etc\\passwd"),
        ("....//....", "/home/dir/..../...."),
        ("/./././..", "/"),
        ("~root", "/home/dir/~root"),
    ])
    func neverEscapesTheRoot(input: String, expected: String) throws {
        let resolved = try Self.resolve(input)
        #expect(resolved == expected)
        let path = try VirtualPath.resolve(resolved)
        #expect(!path.components.contains(".."))
        #expect(!path.components.contains("."))
        #expect(!path.components.contains(""))
    }

    @Test func refusesControlCharactersAndNUL() {
        for bad in ["a\u{0}b", "a\nb", "a\rb", "x\u{7F}", "\u{1B}[31m"] {
            #expect(throws: PathError.controlCharacter) { try VirtualPath.resolve(bad) }
        }
    }

    @Test func refusesInvalidUTF8() throws {
        #expect(throws: PathError.invalidUTF8) { try VirtualPath.resolve(bytes: [0x61, 0xFF, 0x62]) }
        #expect(throws: PathError.invalidUTF8) { try VirtualPath.resolve(bytes: [0xC3]) }
        #expect(try VirtualPath.resolve(bytes: Array("été".utf8)).description == "/été")
    }

    @Test func refusesVeryLongNames() throws {
        let longName = String(repeating: "x", count: 256)
        #expect(throws: PathError.nameTooLong) { try VirtualPath.resolve(longName) }
        #expect(try VirtualPath.resolve(String(repeating: "x", count: 255)).name.count == 255)
        let longPath = Array(repeating: String(repeating: "y", count: 200), count: 6).joined(separator: "/")
        #expect(throws: PathError.pathTooLong) { try VirtualPath.resolve(longPath) }
        #expect(throws: PathError.pathTooLong) { try VirtualPath.resolve(String(repeating: "a/", count: 5000)) }
    }

    @Test func containment() throws {
        let shared = try VirtualPath.resolve("/shared")
        #expect(try VirtualPath.resolve("/shared/x").isInside(shared))
        #expect(shared.isInside(shared))
        #expect(try !VirtualPath.resolve("/sharedx").isInside(shared))
        #expect(try !VirtualPath.resolve("/").isInside(shared))
    }
}
