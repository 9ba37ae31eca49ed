/// Finds what the TOML library (toml++, inside TOMLKit) aborts on with a failed assertion instead
/// of reporting a syntax error, so that Ferry refuses it with a line number before the library sees
/// the text. Both were found by the config fuzz target:
/// - a table header whose name does not start with a key character or a quote (`[ = 1`, `[]`,
///   `[[[x]]]`);
/// - a `}` where an array element should start (`ciphers = [}`, `a = [1, }`).
/// A `[` that opens an array inside a value (also over several lines) is not a header: brackets and
/// braces are tracked outside strings and comments.
enum TOMLPreflight {
    private static let newline = UInt8(ascii: "\n")
    private static let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'")

    enum Problem: Equatable {
        case unsafeHeader
        case closingBraceInArray

        var text: String {
            switch self {
            case .unsafeHeader: "a table header is [name] or [[name]], the name a key or a quoted string"
            case .closingBraceInArray: "'}' where an array element or ']' should be"
            }
        }
    }

    /// The line and kind of the first construct the library would abort on, or nil.
    static func firstProblem(_ text: String) -> (line: Int, problem: Problem)? {
        let bytes = Array(text.utf8)
        var index = 0, line = 1
        /// The open `[` and `{` of values, innermost last.
        var open: [UInt8] = []
        /// Just after an array's `[` or `,`: the next token starts an element (or closes the array).
        var elementExpected = false
        var lineStart = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == newline {
                line += 1
                lineStart = true
                index += 1
                continue
            }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                index += 1
                continue
            }
            if lineStart && open.isEmpty && byte == UInt8(ascii: "[") {
                if !isSafeHeader(bytes[index...]) { return (line, .unsafeHeader) }
                index = bytes[index...].firstIndex(of: newline) ?? bytes.count  // the header's own line
                continue
            }
            lineStart = false
            if byte == UInt8(ascii: "#") {
                index = bytes[index...].firstIndex(of: newline) ?? bytes.count
                continue
            }
            if elementExpected && byte == UInt8(ascii: "}") { return (line, .closingBraceInArray) }
            elementExpected = false
            switch byte {
            case quote, apostrophe:
                index = skipString(bytes, at: index, counting: &line)
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(byte)
                elementExpected = byte == UInt8(ascii: "[")
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                _ = open.popLast()
            case UInt8(ascii: ","):
                elementExpected = open.last == UInt8(ascii: "[")
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// `[name]` or `[[name]]`, the name starting (after blanks) with a bare-key character or a quote.
    private static func isSafeHeader(_ header: ArraySlice<UInt8>) -> Bool {
        var rest = header.dropFirst()
        if rest.first == UInt8(ascii: "[") { rest = rest.dropFirst() }
        rest = rest.drop(while: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard let first = rest.first else { return false }
        return first == quote || first == apostrophe || first == UInt8(ascii: "_") || first == UInt8(ascii: "-")
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20)
    }

    /// Skips a string starting at `start` (basic or literal, one line or triple-quoted multi-line);
    /// returns the index after it. An unterminated one-line string ends at its line's end.
    private static func skipString(_ bytes: [UInt8], at start: Int, counting line: inout Int) -> Int {
        let delimiter = bytes[start]
        let triple = start + 2 < bytes.count && bytes[start + 1] == delimiter && bytes[start + 2] == delimiter
        var index = start + (triple ? 3 : 1)
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") && delimiter == quote {
                index += 2
                continue
            }
            if byte == newline {
                if !triple { return index }
                line += 1
            }
            if byte == delimiter {
                if !triple { return index + 1 }
                if index + 2 < bytes.count && bytes[index + 1] == delimiter && bytes[index + 2] == delimiter { return index + 3 }
            }
            index += 1
        }
        return bytes.count
    }
}
