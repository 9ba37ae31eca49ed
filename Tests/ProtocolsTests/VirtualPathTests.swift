@testable import Protocols
import Storage
import Testing
import PathRules

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

    /// Characters that join a preceding `/` into one grapheme cluster: a split on Characters would not
    /// happen there, the file system's split on the byte 0x2F does.
    static let joiners = ["\u{301}", "\u{200D}", "\u{FE0F}", "\u{20E3}", "\u{1F3FB}"]

    /// The traversal corpus, bytewise: `..` after a `/` that forms one Character with what follows is
    /// still `..` on disk and in S3, and must be resolved as such.
    @Test(arguments: joiners)
    func splitsOnTheSlashByteNotOnCharacters(joiner: String) throws {
        for depth in 1...4 {
            let climb = String(repeating: "/..", count: depth)
            let input = climb + "/" + joiner + "x"
            let path = try VirtualPath.resolve(input, from: VirtualPath.resolve("/a/b"))
            // `..` was resolved (never above the root); the joiner starts a name of its own.
            #expect(path.components == [joiner + "x"])
            #expect(try VirtualPath.resolve(bytes: Array(input.utf8)).components == [joiner + "x"])
            // The same corpus relative to a deep directory.
            let relative = try VirtualPath.resolve(String(repeating: "../", count: depth) + joiner + "z",
                                                   from: VirtualPath.resolve("/a/b/c/d"))
            let kept = Array(["a", "b", "c", "d"].dropLast(depth))
            #expect(relative.components == kept + [joiner + "z"])
        }
        // `..` followed by the joiner is an ordinary name (`..\u{301}` is not `..`).
        #expect(try VirtualPath.resolve("/x/.." + joiner).components == ["x", ".." + joiner])
    }

    /// The property the resolver promises, over the whole corpus: every component is a plain name,
    /// so a key made of a prefix and the components stays under the prefix.
    @Test func everyResultIsUnderTheRoot() throws {
        var corpus: [[UInt8]] = []
        let pieces = ["..", ".", "", "a", "%2e%2e", "..\\..", "\u{FF0E}\u{FF0E}", "\u{2024}\u{2024}", "....", "~"] + Self.joiners
        for first in pieces {
            for second in pieces {
                for third in ["..", "x", Self.joiners[0] + ".."] {
                    corpus.append(Array("/\(first)/\(second)/\(third)".utf8))
                    corpus.append(Array("\(first)/\(second)/../\(third)".utf8))
                }
            }
        }
        for input in corpus {
            guard let path = try? VirtualPath.resolve(bytes: input, from: VirtualPath.resolve("/d")) else { continue }
            for component in path.components {
                #expect(KeyBytes.problem(withName: component.utf8) == nil, "\(input) gave \(path.components)")
            }
            let key = "users/alice/" + path.components.joined(separator: "/")
            let segments = key.utf8.split(separator: KeyBytes.separator, omittingEmptySubsequences: false)
            #expect(Array(segments.prefix(2).map { String(decoding: $0, as: UTF8.self) }) == ["users", "alice"])
            #expect(!segments.dropFirst(2).contains { KeyBytes.isDotOrDotDot($0) })
        }
    }

    @Test func refusesOverlongAndSurrogateEncodings() {
        // Overlong `/` (C0 AF), overlong `.` (C0 AE, E0 80 AE), a UTF-16 surrogate (ED A0 80), NUL.
        for bad: [UInt8] in [[0xC0, 0xAF], [0x2E, 0xC0, 0xAE], [0xE0, 0x80, 0xAE], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0xAF]] {
            #expect(throws: PathError.invalidUTF8) { try VirtualPath.resolve(bytes: [0x2F] + bad + [0x2F, 0x78]) }
        }
        #expect(throws: PathError.controlCharacter) { try VirtualPath.resolve(bytes: Array("/a\u{0}/../b".utf8)) }
    }

    @Test func fullwidthDotsAndBackslashesAreNames() throws {
        #expect(try VirtualPath.resolve("/\u{FF0E}\u{FF0E}/x").components == ["\u{FF0E}\u{FF0E}", "x"])
        #expect(try VirtualPath.resolve("/..\\x").components == ["..\\x"])
    }

    /// Paths compare by bytes: precomposed and decomposed é are two different keys.
    @Test func equalityIsBytewise() throws {
        let precomposed = try VirtualPath.resolve("/caf\u{E9}")
        let decomposed = try VirtualPath.resolve("/cafe\u{301}")
        #expect(precomposed != decomposed)
        #expect(!decomposed.isInside(precomposed))
        #expect(Set([precomposed, decomposed]).count == 2)
    }

    @Test func appendingTakesOnlyPlainNames() throws {
        let base = try VirtualPath.resolve("/d")
        #expect(try base.appending("x").components == ["d", "x"])
        for bad in ["", ".", "..", "a/b", "/\u{301}", "a\u{0}"] {
            #expect(throws: PathError.self) { try base.appending(bad) }
        }
    }
}
