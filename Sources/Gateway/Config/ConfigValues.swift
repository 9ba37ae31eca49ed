import Foundation
import Protocols

/// Parsers for the value forms of the configuration (design.md §5). Each returns nil for text it
/// does not accept; the caller names the key path and says what was expected.
enum ConfigValues {
    /// `16MiB`, `5GiB`, `200GB`, `1048576` → bytes. Binary (KiB, MiB, GiB, TiB) and decimal
    /// (KB, MB, GB, TB) units; `B` or no unit = bytes.
    static func size(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
        guard !digits.isEmpty, let number = Double(digits), number >= 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "k": 1024, "kib": 1024, "m": 1_048_576, "mib": 1_048_576, "g": 1_073_741_824, "gib": 1_073_741_824,
            "t": 1_099_511_627_776, "tib": 1_099_511_627_776,
            "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let value = number * multiplier
        guard value < 1.8e19, unit != "" && unit != "b" || value == value.rounded(.down) else { return nil }
        return UInt64(value.rounded(.down))
    }

    static let sizeExpectation = "a size such as \"16MiB\", \"5GiB\" or \"200GB\""

    /// `30s`, `5m`, `1h30m`, `500ms`, `2d` → seconds.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !digits.isEmpty, let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else {
                return nil
            }
            rest = rest.dropFirst(unit.count)
            total += number * factor
        }
        return total
    }

    static let durationExpectation = "a duration such as \"30s\", \"5m\" or \"1h30m\""

    /// `0.0.0.0:2121`, `[::]:2222`, `localhost:2121` → address; "" → nil (disabled). Port 0 is refused.
    static func listenAddress(_ text: String) -> SocketAddress?? {
        if text.isEmpty { return .some(nil) }
        guard let address = SocketAddress(parsing: text), address.port > 0 else { return nil }
        return .some(address)
    }

    static let addressExpectation = "\"host:port\" with a numeric IP (or localhost) and a port 1-65535, or \"\" to disable"

    /// `60000-60100` or a single port → range.
    static func portRange(_ text: String) -> ClosedRange<UInt16>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 1 || parts.count == 2, let low = UInt16(parts[0]), low > 0,
              let high = parts.count == 2 ? UInt16(parts[1]) : low, high >= low else { return nil }
        return low...high
    }

    static let portRangeExpectation = "\"LOW-HIGH\" with 1 <= LOW <= HIGH <= 65535"

    /// S3 bucket naming rules (3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter
    /// or digit); also applied to local buckets so that configurations move between drivers.
    static func isValidBucketName(_ name: String) -> Bool {
        guard (3...63).contains(name.count) else { return false }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
        guard name.allSatisfy({ allowed.contains($0) }), let first = name.first, let last = name.last,
              first.isLetter || first.isNumber, last.isLetter || last.isNumber, !name.contains("..") else { return false }
        return true
    }

    /// User and storage names: printable, no spaces, colons or slashes.
    static func isValidName(_ name: String, maxLength: Int = 64) -> Bool {
        !name.isEmpty && name.count <= maxLength
            && name.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && $0 != ":" && $0 != "/" && $0 != "\\" }
    }
}
