#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address and port in numeric form. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`,
/// what a dual-stack listener reports) are kept as IPv4 so that address checks compare like with like.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    public let family: Family
    /// Numeric host (`127.0.0.1`, `::1`).
    public let host: String
    public let port: UInt16

    /// Parses a numeric IPv4 or IPv6 host; nil if it is not one.
    public init?(host: String, port: UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            self.init(family: .ipv4, host: Self.format(v4), port: port)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            if let mapped = Self.unmapped(v6) {
                self.init(family: .ipv4, host: Self.format(mapped), port: port)
            } else {
                self.init(family: .ipv6, host: Self.format(v6), port: port)
            }
        } else {
            return nil
        }
    }

    private init(family: Family, host: String, port: UInt16) {
        self.family = family
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`; `localhost` means 127.0.0.1.
    public init?(parsing text: String) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portPart) else { return nil }
        let host = hostPart == "localhost" ? "127.0.0.1" : String(hostPart)
        self.init(host: host, port: port)
    }

    public func withPort(_ port: UInt16) -> SocketAddress {
        SocketAddress(family: family, host: host, port: port)
    }

    public var description: String { family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .ipv4:
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            inet_pton(AF_INET, host, &address.sin_addr)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6:
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &address.sin6_addr)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads a `sockaddr_storage` filled by accept/getsockname/getpeername.
    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee } }
            self.init(family: .ipv4, host: Self.format(address.sin_addr), port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee } }
            let port = UInt16(bigEndian: address.sin6_port)
            if let mapped = Self.unmapped(address.sin6_addr) {
                self.init(family: .ipv4, host: Self.format(mapped), port: port)
            } else {
                self.init(family: .ipv6, host: Self.format(address.sin6_addr), port: port)
            }
        default:
            return nil
        }
    }

    private static func format(_ address: in_addr) -> String {
        var address = address
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
        return text(ofCString: buffer)
    }

    private static func format(_ address: in6_addr) -> String {
        var address = address
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        return text(ofCString: buffer)
    }

    /// The text inet_ntop wrote into `buffer`, up to its NUL (never past the buffer).
    private static func text(ofCString buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func unmapped(_ address: in6_addr) -> in_addr? {
        let bytes = withUnsafeBytes(of: address) { Array($0) }
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else { return nil }
        var v4 = in_addr()
        withUnsafeMutableBytes(of: &v4) { $0.copyBytes(from: bytes[12..<16]) }
        return v4
    }

    /// A numeric IPv4 address, or the first IPv4 address DNS gives for a host name (nil when it has
    /// none). Blocks while resolving: for configuration loading, never on a connection's path.
    public static func resolveIPv4(_ name: String) -> SocketAddress? {
        if let numeric = SocketAddress(host: name, port: 0) { return numeric.family == .ipv4 ? numeric : nil }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if entry.pointee.ai_family == AF_INET, let raw = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(entry.pointee.ai_addrlen))) }
                if let address = SocketAddress(storage: storage) { return address.withPort(0) }
            }
            cursor = entry.pointee.ai_next
        }
        return nil
    }

    /// The four IPv4 octets (for PASV/PORT), nil for IPv6.
    public var ipv4Octets: [UInt8]? {
        guard family == .ipv4 else { return nil }
        let parts = host.split(separator: ".").compactMap { UInt8($0) }
        return parts.count == 4 ? parts : nil
    }
}
