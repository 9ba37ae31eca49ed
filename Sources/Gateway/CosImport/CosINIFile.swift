/// A cos-ftp-server configuration file (`conf/vsftpd.conf`, INI; ../shared/reference/cos-ftp-server.md):
/// sections in brackets, `key = value` lines (spaces, tabs or nothing around `=`), `#` comments on
/// their own line or after a value. Keys are compared in lower case; every value remembers its
/// line for error messages.
struct CosINIFile {
    struct Value {
        let text: String
        let line: Int
    }

    struct Section {
        let name: String
        let line: Int
        var values: [String: Value] = [:]
        /// Keys in file order, for the report.
        var keys: [String] = []
    }

    /// Why the file cannot be read, with the line it was found on.
    struct ParseError: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { line > 0 ? "line \(line): \(reason)" : reason }
    }

    private(set) var sections: [Section] = []

    func section(_ name: String) -> Section? { sections.first { $0.name == name } }

    init(bytes: [UInt8]) throws(ParseError) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            let line = Self.lineOfFirstInvalidByte(bytes)
            throw ParseError(line: line, reason: "the file is not valid UTF-8 (cos-ftp-server's files are UTF-8; convert it with iconv first)")
        }
        var current: Int?
        var number = 0
        // Lines and comments are cut on bytes (LF, `#`): as Characters, "\r\n" is one Character that
        // is not "\n", and a `#` followed by a combining mark would not be a `#`.
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            let content = rawLine.firstIndex(of: UInt8(ascii: "#")).map { rawLine[..<$0] } ?? rawLine
            let trimmed = String(decoding: content, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
                    throw ParseError(line: number, reason: "a section header must look like [NAME], found \(trimmed.debugDescription)")
                }
                let name = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else { throw ParseError(line: number, reason: "empty section name") }
                if sections.contains(where: { $0.name == name }) {
                    throw ParseError(line: number, reason: "section [\(name)] appears twice")
                }
                sections.append(Section(name: name, line: number))
                current = sections.count - 1
                continue
            }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ParseError(line: number, reason: "expected key = value, found \(trimmed.debugDescription)")
            }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { throw ParseError(line: number, reason: "a value without a key") }
            guard let index = current else {
                throw ParseError(line: number, reason: "\(key) is outside any section")
            }
            if sections[index].values[key] != nil {
                throw ParseError(line: number, reason: "[\(sections[index].name)] \(key) is set twice")
            }
            sections[index].values[key] = Value(text: value, line: number)
            sections[index].keys.append(key)
        }
    }

    private static func lineOfFirstInvalidByte(_ bytes: [UInt8]) -> Int {
        var line = 1
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            if String(validating: bytes[start..<end], as: UTF8.self) == nil { return line }
            line += 1
            start = end + 1
        }
        return 0
    }
}
