import Digests
import Foundation

/// What Ferry keeps in an object's user metadata (S3 `x-amz-meta-*`), under names other tools
/// share: MD5 as rclone writes it for multipart uploads (`md5chksum`, base64), SHA-256 in hex under
/// `sha256`. Written by Ferry's uploads, read back by checksum requests without reading the object.
public enum StoredMetadata {
    public static let md5Key = "md5chksum"
    public static let sha256Key = "sha256"
    /// The file's modification time as its writer knew it, rclone's (and python-swiftclient's) form:
    /// Unix seconds in fixed point with up to 9 fraction digits, trailing zeros dropped
    /// ("1354040105.123456789").
    public static let modificationTimeKey = "mtime"

    /// The times a file may be given: from the epoch to the end of year 9999 (what MFMT can
    /// write). Protocols refuse others before they get here; `split` clamps as a last guard.
    public static let modificationTimeRange: ClosedRange<TimeInterval> = 0...253_402_300_799

    /// Whole seconds and nanoseconds (a multiple of 1,000) of `date`, clamped to
    /// `modificationTimeRange`; computed without multiplying the whole time, which could overflow.
    public static func split(_ date: Date) -> (seconds: Int64, nanoseconds: Int64) {
        let time = min(max(date.timeIntervalSince1970, modificationTimeRange.lowerBound), modificationTimeRange.upperBound)
        let whole = time.rounded(.down)
        var seconds = Int64(whole)
        var microseconds = Int64(((time - whole) * 1e6).rounded())
        if microseconds >= 1_000_000 {
            seconds += 1
            microseconds -= 1_000_000
        }
        return (seconds, microseconds * 1000)
    }

    /// `date` in the `mtime` form, to the microsecond: a `Date` (a Double of seconds) holds no finer
    /// time today, and printing its binary noise as nanoseconds would be false precision.
    public static func modificationTimeValue(_ date: Date) -> String {
        let (whole, fraction) = split(date)
        guard fraction != 0 else { return "\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// The stored modification time, if the metadata holds a well-formed one (digits, an optional
    /// point and fraction; more than 9 fraction digits are cut, as rclone reads them).
    public static func modificationTime(in metadata: [String: String]) -> Date? {
        guard let text = metadata[modificationTimeKey] else { return nil }
        let parts = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        let isDigits: (Substring.UTF8View.SubSequence) -> Bool = { !$0.isEmpty && $0.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard let wholePart = parts.first, isDigits(wholePart), wholePart.count <= 12,
              let whole = Int64(String(decoding: wholePart, as: UTF8.self)) else { return nil }
        var nanoseconds: Int64 = 0
        if parts.count == 2 {
            guard isDigits(parts[1]) else { return nil }
            let digits = String(decoding: parts[1].prefix(9), as: UTF8.self)
            nanoseconds = Int64(digits + String(repeating: "0", count: 9 - digits.count)) ?? 0
        }
        return Date(timeIntervalSince1970: Double(whole) + Double(nanoseconds) / 1e9)
    }
    static let headerPrefix = "x-amz-meta-"

    /// The stored digest for `algorithm`, if the metadata holds a well-formed one.
    public static func digest(_ algorithm: ChecksumAlgorithm, in metadata: [String: String]) -> [UInt8]? {
        switch algorithm {
        case .md5:
            guard let text = metadata[md5Key], let data = Data(base64Encoded: text), data.count == 16 else { return nil }
            return Array(data)
        case .sha256:
            guard let text = metadata[sha256Key], let bytes = Self.bytes(hex: text), bytes.count == 32 else { return nil }
            return bytes
        case .sha1, .crc32:
            return nil
        }
    }

    /// The metadata entries for whole-object digests.
    public static func checksums(md5: [UInt8], sha256: [UInt8]) -> [String: String] {
        [md5Key: Data(md5).base64EncodedString(), sha256Key: Digest.hex(sha256)]
    }

    /// The `x-amz-meta-*` request headers for `metadata`, in a stable order.
    static func headers(_ metadata: [String: String]) -> [(String, String)] {
        metadata.sorted { $0.key < $1.key }.map { (headerPrefix + $0.key, $0.value) }
    }

    /// The HeadObject headers an object keeps through a CopyObject onto itself only when they are
    /// sent again (REPLACE keeps none of them; S3 CopyObject documentation). Tags are copied by
    /// default; ACLs cannot be read from HeadObject and are not carried.
    static let headersKeptByRewrite = ["content-type", "cache-control", "content-disposition", "content-encoding",
                                       "content-language", "expires", "x-amz-website-redirect-location",
                                       "x-amz-storage-class", "x-amz-server-side-encryption",
                                       "x-amz-server-side-encryption-aws-kms-key-id",
                                       "x-amz-server-side-encryption-bucket-key-enabled"]

    static func systemMetadata(_ headers: [String: String]) -> [(String, String)] {
        headersKeptByRewrite.compactMap { name in headers[name].map { (name, $0) } }
    }

    /// The user metadata of a response's headers (names are lower-case already).
    static func userMetadata(_ headers: [String: String]) -> [String: String] {
        var found: [String: String] = [:]
        for (name, value) in headers where name.hasPrefix(headerPrefix) {
            found[String(name.dropFirst(headerPrefix.count))] = value
        }
        return found
    }

    /// Bytes of a hexadecimal string (either case); nil if it is not one.
    public static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
