import Foundation
import TOMLKit

/// One configuration mistake: the key path (`user[2].folder[1].authority`, indexes 1-based) and what
/// is wrong with it.
struct ConfigIssue: Error, Equatable, CustomStringConvertible {
    let path: String
    let message: String
    var description: String { "\(path): \(message)" }
}

/// Collects every mistake of one load, so that an operator sees them all at once.
final class ConfigIssues {
    private(set) var all: [ConfigIssue] = []
    func add(_ path: String, _ message: String) { all.append(ConfigIssue(path: path, message: message)) }
}

/// A configuration value, whatever document it came from: the TOML file, or the JSON answer of the
/// identity service (`[auth] http`), which goes through the same checks as a `[[user]]` table.
indirect enum ConfigValue {
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case dateTime
    case array([ConfigValue])
    case table(ConfigTable)

    var text: String? { if case .string(let text) = self { text } else { nil } }

    /// How a mistake names what it found.
    var described: String {
        switch self {
        case .string(let text): "the string \(text.debugDescription)"
        case .integer(let number): "the integer \(number)"
        case .number(let number): "the number \(number)"
        case .bool(let flag): "\(flag)"
        case .table: "a table"
        case .array: "an array"
        case .dateTime: "a date/time"
        }
    }
}

/// A table's keys and values (TOML tables and JSON objects alike).
struct ConfigTable {
    var values: [String: ConfigValue] = [:]
    var keys: [String] { values.keys.sorted() }
}

extension ConfigValue {
    /// The TOMLKit value, converted once (TOMLKit's types stay in this file).
    init(toml value: any TOMLValueConvertible) {
        switch value.type {
        case .string: self = .string(value.string ?? "")
        case .int: self = .integer(value.int ?? 0)
        case .double: self = .number(value.double ?? 0)
        case .bool: self = .bool(value.bool ?? false)
        case .date, .time, .dateTime: self = .dateTime
        case .array: self = .array((value.array ?? TOMLArray()).map { ConfigValue(toml: $0) })
        case .table: self = .table(ConfigTable(toml: value.table ?? TOMLTable()))
        }
    }
}

extension ConfigTable {
    init(toml table: TOMLTable) {
        for key in table.keys { if let value = table[key] { values[key] = ConfigValue(toml: value) } }
    }
}

/// JSON: strings, whole numbers, other numbers, true/false, arrays and objects (null is refused).
extension ConfigValue: Decodable {
    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var elements: [ConfigValue] = []
            while !array.isAtEnd { elements.append(try array.decode(ConfigValue.self)) }
            self = .array(elements)
            return
        }
        if let object = try? decoder.container(keyedBy: JSONKey.self) {
            var table = ConfigTable()
            for key in object.allKeys { table.values[key.stringValue] = try object.decode(ConfigValue.self, forKey: key) }
            self = .table(table)
            return
        }
        let single = try decoder.singleValueContainer()
        if let flag = try? single.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? single.decode(Int.self) {
            self = .integer(number)
        } else if let number = try? single.decode(Double.self) {
            self = .number(number)
        } else {
            self = .string(try single.decode(String.self))  // null and the rest: a decoding error
        }
    }

    private struct JSONKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// Reads one table with its key path, type-checks each value it is asked for, and reports every
/// key nobody asked for as unknown. The only file that touches TOMLKit's types.
final class TableReader {
    let path: String
    private let table: ConfigTable
    let issues: ConfigIssues
    private var knownKeys: [String] = []

    init(path: String, table: ConfigTable, issues: ConfigIssues) {
        self.path = path
        self.table = table
        self.issues = issues
    }

    /// Parses a whole TOML document; a syntax error is reported with its line and column.
    static func parse(_ text: String, issues: ConfigIssues) -> TableReader? {
        if let (line, problem) = TOMLPreflight.firstProblem(text) {
            issues.add("(syntax)", "line \(line): \(problem.text)")
            return nil
        }
        do {
            return TableReader(path: "", table: ConfigTable(toml: try TOMLTable(string: text)), issues: issues)
        } catch let error as TOMLParseError {
            issues.add("(syntax)", "line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            issues.add("(syntax)", "\(error)")
        }
        return nil
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { table.values[key] != nil }

    private func value(_ key: String) -> ConfigValue? {
        if !knownKeys.contains(key) { knownKeys.append(key) }
        return table.values[key]
    }

    private func wrongType(_ key: String, _ value: ConfigValue, expected: String) {
        issues.add(keyPath(key), "expected \(expected), found \(value.described)")
    }

    func string(_ key: String) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else {
            wrongType(key, value, expected: "a string")
            return nil
        }
        return text
    }

    func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else {
            wrongType(key, value, expected: "true or false")
            return nil
        }
        return flag
    }

    func integer(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else {
            wrongType(key, value, expected: "an integer")
            return nil
        }
        guard range.contains(number) else {
            issues.add(keyPath(key), "expected an integer from \(range.lowerBound) to \(range.upperBound), found \(number)")
            return nil
        }
        return number
    }

    func stringArray(_ key: String) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let array) = value else {
            wrongType(key, value, expected: "an array of strings")
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.text else {
                issues.add("\(keyPath(key))[\(index + 1)]", "expected a string, found \(element.described)")
                continue
            }
            result.append(text)
        }
        return result
    }

    /// A `[section]`. nil when absent (or not a table, which is reported).
    func table(_ key: String) -> TableReader? {
        guard let value = value(key) else { return nil }
        guard case .table(let table) = value else {
            wrongType(key, value, expected: "a table [\(keyPath(key))]")
            return nil
        }
        return TableReader(path: keyPath(key), table: table, issues: issues)
    }

    /// A `[[section]]` array of tables; each element gets the path `key[n]` (1-based).
    func tableArray(_ key: String) -> [TableReader] {
        guard let value = value(key) else { return [] }
        guard case .array(let array) = value else {
            wrongType(key, value, expected: "an array of tables [[\(keyPath(key))]]")
            return []
        }
        var readers: [TableReader] = []
        for (index, element) in array.enumerated() {
            let elementPath = "\(keyPath(key))[\(index + 1)]"
            guard case .table(let table) = element else {
                issues.add(elementPath, "expected a table, found \(element.described)")
                continue
            }
            readers.append(TableReader(path: elementPath, table: table, issues: issues))
        }
        return readers
    }

    /// Reports every key of this table that was never asked for.
    func rejectUnknownKeys(context: String? = nil) {
        for key in table.keys where !knownKeys.contains(key) {
            let known = knownKeys.sorted().joined(separator: ", ")
            issues.add(keyPath(key), "unknown key\(context.map { " for \($0)" } ?? "") (known keys here: \(known.isEmpty ? "none" : known))")
        }
    }
}
