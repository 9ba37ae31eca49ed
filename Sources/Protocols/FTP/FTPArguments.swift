import Storage
import Timestamps
import Foundation

/// The arguments of FTP commands that carry structure, parsed without side effects: the handlers act
/// on the results, and the fuzzer drives these directly.
enum FTPArguments {
    /// `PORT h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2): six decimal bytes. nil when malformed.
    static func port(_ argument: String) -> SocketAddress? {
        let numbers = argument.split(separator: ",").map { UInt8($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 6, numbers.allSatisfy({ $0 != nil }) else { return nil }
        let bytes = numbers.map { $0! }
        let host = bytes[0..<4].map(String.init).joined(separator: ".")
        return SocketAddress(host: host, port: UInt16(bytes[4]) << 8 | UInt16(bytes[5]))
    }

    enum ExtendedAddress {
        case address(SocketAddress)
        /// A protocol number other than 1 (IPv4) and 2 (IPv6).
        case unsupportedFamily
        case malformed
        /// The address does not parse, or is not of the family named.
        case badAddress
    }

    /// `EPRT |1|132.235.1.2|6275|` or `EPRT |2|::1|6275|`; any printable ASCII delimiter that is not
    /// a letter or digit (RFC 2428 §2).
    static func eprt(_ argument: String) -> ExtendedAddress {
        let bytes = Array(argument.utf8)
        guard let delimiter = bytes.first, delimiter > 0x20, delimiter < 0x7F,
              !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(delimiter),
              !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(delimiter & ~0x20) else { return .malformed }
        let fields = bytes.split(separator: delimiter, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty, let port = UInt16(fields[3]) else { return .malformed }
        guard fields[1] == "1" || fields[1] == "2" else { return .unsupportedFamily }
        guard let address = SocketAddress(host: fields[2], port: port),
              (address.family == .ipv4) == (fields[1] == "1") else { return .badAddress }
        return .address(address)
    }

    /// `REST n` (RFC 3659 §5): a decimal byte offset.
    static func restartOffset(_ argument: String) -> UInt64? {
        UInt64(argument.trimmingCharacters(in: .whitespaces))
    }

    /// `OPTS MLST type;size;…` (RFC 3659 §7.9): the facts named that Ferry knows; others are ignored.
    static func mlstFacts(_ value: String) -> Set<FTPFact> {
        var selection: Set<FTPFact> = []
        for name in value.split(separator: ";") {
            if let fact = FTPFact(rawValue: name.lowercased()) { selection.insert(fact) }
        }
        return selection
    }

    /// `YYYYMMDDHHMMSS` with an optional `.fff` fraction, in UTC (draft-somers-ftp-mfxx §3, the form
    /// of MDTM's reply); nil for anything else.
    static func modificationTime(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 14, bytes[..<14].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        var fraction = 0.0
        if bytes.count > 14 {
            let tail = bytes[15...]
            guard bytes[14] == UInt8(ascii: "."), !tail.isEmpty, tail.count <= 9, tail.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return nil
            }
            fraction = Double(String(decoding: tail, as: UTF8.self)).map { $0 / pow(10, Double(tail.count)) } ?? 0
        }
        func field(_ from: Int, _ length: Int) -> Int { Int(String(decoding: bytes[from..<(from + length)], as: UTF8.self))! }
        let (year, month, day) = (field(0, 4), field(4, 2), field(6, 2))
        let (hour, minute, second) = (field(8, 2), field(10, 2), field(12, 2))
        guard let whole = UTCTime.date(year: year, month: month, day: day, hour: hour, minute: minute, second: second) else {
            return nil
        }
        // timegm normalises (February 31st is March 3rd): only a date that reads back the same exists.
        let check = UTCTime(whole)
        guard (check.year, check.month, check.day, check.hour, check.minute) == (year, month, day, hour, minute),
              StoredMetadata.modificationTimeRange.contains(whole.timeIntervalSince1970) else { return nil }
        return whole.addingTimeInterval(fraction)
    }
}
