#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 network in CIDR form (`10.0.0.0/8`, `fd00::/8`; a bare address is a single host).
/// Used for the PROXY protocol's trusted sources and for passive-address overrides.
public struct NetworkRange: Sendable, Hashable, CustomStringConvertible {
    public let family: SocketAddress.Family
    /// The network's address bytes (4 or 16), with the host bits cleared.
    let network: [UInt8]
    public let prefixLength: Int

    /// Parses `address/prefix` or a bare address; nil if either part is malformed. Host bits set in
    /// the address (`10.1.2.3/8`) are refused: such a range is almost always a typo.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = SocketAddress(host: String(parts[0]), port: 0) else { return nil }
        let bytes = address.addressBytes
        let length: Int
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let parsed = Int(parts[1]), parsed <= bytes.count * 8 else { return nil }
            length = parsed
        } else {
            length = bytes.count * 8
        }
        let masked = Self.mask(bytes, prefixLength: length)
        guard masked == bytes else { return nil }
        self.family = address.family
        self.network = masked
        self.prefixLength = length
    }

    /// Whether `address` lies in this network (families must match; IPv4-mapped IPv6 addresses are
    /// already IPv4 in `SocketAddress`).
    public func contains(_ address: SocketAddress) -> Bool {
        guard address.family == family else { return false }
        return Self.mask(address.addressBytes, prefixLength: prefixLength) == network
    }

    public var description: String {
        let host = SocketAddress(bytes: network)?.host ?? "?"
        return "\(host)/\(prefixLength)"
    }

    private static func mask(_ bytes: [UInt8], prefixLength: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let bitsKept = min(max(prefixLength - index * 8, 0), 8)
            result[index] &= bitsKept == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsKept))
        }
        return result
    }
}

extension SocketAddress {
    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    var addressBytes: [UInt8] {
        switch family {
        case .ipv4:
            var address = in_addr()
            inet_pton(AF_INET, host, &address)
            return withUnsafeBytes(of: address) { Array($0) }
        case .ipv6:
            var address = in6_addr()
            inet_pton(AF_INET6, host, &address)
            return withUnsafeBytes(of: address) { Array($0) }
        }
    }

    /// An address from 4 or 16 bytes in network order (port 0 unless given).
    init?(bytes: [UInt8], port: UInt16 = 0) {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch bytes.count {
        case 4:
            var address = in_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
        case 16:
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        default:
            return nil
        }
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.init(host: host, port: port)
    }
}
