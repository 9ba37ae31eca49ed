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

/// Reads one TOML table with its key path, type-checks each value it is asked for, and reports every
/// key nobody asked for as unknown. The only file that touches TOMLKit's types.
final class TableReader {
    let path: String
    private let table: TOMLTable
    let issues: ConfigIssues
    private var knownKeys: [String] = []

    init(path: String, table: TOMLTable, issues: ConfigIssues) {
        self.path = path
        self.table = table
        self.issues = issues
    }

    /// Parses a whole document; a syntax error is reported with its line and column.
    static func parse(_ text: String, issues: ConfigIssues) -> TableReader? {
        if let (line, problem) = TOMLPreflight.firstProblem(text) {
            issues.add("(syntax)", "line \(line): \(problem.text)")
            return nil
        }
        do {
            return TableReader(path: "", table: try TOMLTable(string: text), issues: issues)
        } catch let error as TOMLParseError {
            issues.add("(syntax)", "line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            issues.add("(syntax)", "\(error)")
        }
        return nil
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { table.contains(key: key) }

    private func value(_ key: String) -> (any TOMLValueConvertible)? {
        if !knownKeys.contains(key) { knownKeys.append(key) }
        return table[key]
    }

    private static func describe(_ value: any TOMLValueConvertible) -> String {
        switch value.type {
        case .string: "the string \(value.string!.debugDescription)"
        case .int: "the integer \(value.int!)"
        case .double: "the number \(value.double!)"
        case .bool: "\(value.bool!)"
        case .table: "a table"
        case .array: "an array"
        case .date, .time, .dateTime: "a date/time"
        }
    }

    private func wrongType(_ key: String, _ value: any TOMLValueConvertible, expected: String) {
        issues.add(keyPath(key), "expected \(expected), found \(Self.describe(value))")
    }

    func string(_ key: String) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else {
            wrongType(key, value, expected: "a string")
            return nil
        }
        return text
    }

    func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.bool else {
            wrongType(key, value, expected: "true or false")
            return nil
        }
        return flag
    }

    func integer(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value.int else {
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
        guard let array = value.array else {
            wrongType(key, value, expected: "an array of strings")
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.string else {
                issues.add("\(keyPath(key))[\(index + 1)]", "expected a string, found \(Self.describe(element))")
                continue
            }
            result.append(text)
        }
        return result
    }

    /// A `[section]`. nil when absent (or not a table, which is reported).
    func table(_ key: String) -> TableReader? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else {
            wrongType(key, value, expected: "a table [\(keyPath(key))]")
            return nil
        }
        return TableReader(path: keyPath(key), table: table, issues: issues)
    }

    /// A `[[section]]` array of tables; each element gets the path `key[n]` (1-based).
    func tableArray(_ key: String) -> [TableReader] {
        guard let value = value(key) else { return [] }
        guard let array = value.array else {
            wrongType(key, value, expected: "an array of tables [[\(keyPath(key))]]")
            return []
        }
        var readers: [TableReader] = []
        for (index, element) in array.enumerated() {
            let elementPath = "\(keyPath(key))[\(index + 1)]"
            guard let table = element.table else {
                issues.add(elementPath, "expected a table, found \(Self.describe(element))")
                continue
            }
            readers.append(TableReader(path: elementPath, table: table, issues: issues))
        }
        return readers
    }

    /// Reports every key of this table that was never asked for.
    func rejectUnknownKeys(context: String? = nil) {
        for key in table.keys.sorted() where !knownKeys.contains(key) {
            let known = knownKeys.sorted().joined(separator: ", ")
            issues.add(keyPath(key), "unknown key\(context.map { " for \($0)" } ?? "") (known keys here: \(known.isEmpty ? "none" : known))")
        }
    }
}
