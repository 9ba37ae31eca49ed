/// Finds table headers that the TOML library (toml++, inside TOMLKit) aborts on with a failed
/// assertion instead of reporting a syntax error: a header whose name does not start with a key
/// character or a quote (`[ = 1`, `[]`, `[[[x]]]`), found by the config fuzz target. Such a header
/// is refused before the library sees the text. A `[` that opens an array inside a value (also over
/// several lines) is not a header: brackets and braces are counted outside strings and comments.
enum TOMLHeaderCheck {
    private static let newline = UInt8(ascii: "\n")
    private static let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'")

    /// The line of the first unsafe header, or nil.
    static func firstUnsafeHeader(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        var index = 0, line = 1, depth = 0
        var lineStart = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == newline {
                line += 1
                lineStart = true
                index += 1
                continue
            }
            if lineStart && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) {
                index += 1
                continue
            }
            if lineStart && depth == 0 && byte == UInt8(ascii: "[") {
                if !isSafeHeader(bytes[index...]) { return line }
                index = bytes[index...].firstIndex(of: newline) ?? bytes.count  // the header's own line
                continue
            }
            lineStart = false
            switch byte {
            case UInt8(ascii: "#"):
                index = bytes[index...].firstIndex(of: newline) ?? bytes.count
                continue
            case quote, apostrophe:
                index = skipString(bytes, at: index, counting: &line)
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
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
