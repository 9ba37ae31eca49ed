import Foundation

/// The PROXY protocol header a load balancer sends before the client's bytes (HAProxy's "The PROXY
/// protocol", versions 1 and 2): who the client really is. Parsing is pure (bytes in, header out);
/// `ProxyProtocolPolicy` reads it from a socket.
public enum ProxyHeader: Sendable, Equatable {
    /// A proxied connection: the client's address and the address it connected to.
    case proxied(client: SocketAddress, destination: SocketAddress)
    /// v1 `UNKNOWN`, or v2 `PROXY` over a family Ferry does not use (AF_UNSPEC, AF_UNIX): the
    /// specification says to use the connection's own addresses.
    case unknown
    /// v2 `LOCAL`: the balancer speaking for itself (a health check), not relaying a client.
    case local

    /// The 12 bytes every v2 header starts with (§2.2).
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// "PROXY " — how every v1 header starts (§2.1).
    public static let v1Prefix: [UInt8] = Array("PROXY ".utf8)
    /// §2.1: a v1 line is at most 107 bytes with its CRLF.
    public static let v1MaximumLength = 107
    /// v2: the fixed part (signature, version/command, family/transport, length).
    public static let v2FixedLength = 16
    /// The largest v2 header accepted (fixed part, addresses and TLVs); HAProxy's own headers with
    /// the usual TLVs stay far below. Larger ones are refused rather than buffered.
    public static let maximumLength = 2048

    // v2 field values (§2.2).
    static let v2Version: UInt8 = 0x2
    static let v2CommandLocal: UInt8 = 0x0
    static let v2CommandProxy: UInt8 = 0x1
    static let v2FamilyUnspecified: UInt8 = 0x0
    static let v2FamilyInet: UInt8 = 0x1
    static let v2FamilyInet6: UInt8 = 0x2
    static let v2FamilyUnix: UInt8 = 0x3
    static let v2TransportStream: UInt8 = 0x1
    static let v2InetAddressLength = 12
    static let v2Inet6AddressLength = 36

    /// Parses a complete v1 line, CRLF included.
    public static func parseV1(_ line: [UInt8]) throws(ProxyHeaderError) -> ProxyHeader {
        guard line.count <= v1MaximumLength else { throw .tooLong }
        guard line.starts(with: v1Prefix), line.count >= 2, line[line.count - 2] == 0x0D, line[line.count - 1] == 0x0A else {
            throw .malformed("not a PROXY v1 line")
        }
        guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x0D || $0 == 0x0A }),
              !line.dropLast(2).contains(0x0D), !line.dropLast(2).contains(0x0A) else {
            throw .malformed("v1 line with control or non-ASCII bytes")
        }
        let fields = line.dropLast(2).split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 2 else { throw .malformed("v1 line without a protocol") }
        switch fields[1] {
        case "UNKNOWN":
            return .unknown  // §2.1: the rest of the line is to be ignored
        case "TCP4", "TCP6":
            guard fields.count == 6 else { throw .malformed("v1 \(fields[1]) needs 4 fields, found \(fields.count - 2)") }
            let family: SocketAddress.Family = fields[1] == "TCP4" ? .ipv4 : .ipv6
            guard let sourcePort = port(fields[4]), let destinationPort = port(fields[5]) else {
                throw .malformed("v1 port out of range")
            }
            // TCP6 addresses are IPv6 text, which includes IPv4-mapped ones (`::ffff:192.0.2.7`, what
            // a dual-stack balancer sends for an IPv4 client); SocketAddress keeps those as IPv4.
            guard isWritten(fields[2], as: family), isWritten(fields[3], as: family),
                  let source = SocketAddress(host: fields[2], port: sourcePort),
                  let destination = SocketAddress(host: fields[3], port: destinationPort) else {
                throw .malformed("v1 address is not \(family == .ipv4 ? "IPv4" : "IPv6")")
            }
            return .proxied(client: source, destination: destination)
        default:
            throw .malformed("v1 protocol must be TCP4, TCP6 or UNKNOWN")
        }
    }

    /// The length of what follows the fixed 16 bytes of a v2 header, after checking the signature
    /// and version; throws for anything else.
    public static func v2RemainingLength(fixed: [UInt8]) throws(ProxyHeaderError) -> Int {
        guard fixed.count == v2FixedLength, fixed.starts(with: v2Signature) else { throw .malformed("not a PROXY v2 signature") }
        guard fixed[12] >> 4 == v2Version else { throw .malformed("v2 header with version \(fixed[12] >> 4)") }
        let command = fixed[12] & 0x0F
        guard command == v2CommandLocal || command == v2CommandProxy else { throw .malformed("v2 header with command \(command)") }
        let length = Int(fixed[14]) << 8 | Int(fixed[15])
        guard v2FixedLength + length <= maximumLength else { throw .tooLong }
        return length
    }

    /// Parses a v2 header: its fixed 16 bytes and the `v2RemainingLength` bytes after them
    /// (addresses, then TLVs, which Ferry does not need and skips).
    public static func parseV2(fixed: [UInt8], rest: [UInt8]) throws(ProxyHeaderError) -> ProxyHeader {
        let length = try v2RemainingLength(fixed: fixed)
        guard rest.count == length else { throw .malformed("v2 header shorter than its length field") }
        if fixed[12] & 0x0F == v2CommandLocal { return .local }  // §2.2: the address block is ignored
        let family = fixed[13] >> 4
        let transport = fixed[13] & 0x0F
        switch family {
        case v2FamilyUnspecified, v2FamilyUnix:
            return .unknown
        case v2FamilyInet, v2FamilyInet6:
            guard transport == v2TransportStream else { throw .malformed("v2 header for a datagram transport") }
            let addressLength = family == v2FamilyInet ? 4 : 16
            guard rest.count >= (family == v2FamilyInet ? v2InetAddressLength : v2Inet6AddressLength) else {
                throw .malformed("v2 address block too short")
            }
            let sourcePort = UInt16(rest[2 * addressLength]) << 8 | UInt16(rest[2 * addressLength + 1])
            let destinationPort = UInt16(rest[2 * addressLength + 2]) << 8 | UInt16(rest[2 * addressLength + 3])
            guard let source = SocketAddress(bytes: Array(rest[0..<addressLength]), port: sourcePort),
                  let destination = SocketAddress(bytes: Array(rest[addressLength..<(2 * addressLength)]), port: destinationPort) else {
                throw .malformed("v2 address unreadable")
            }
            return .proxied(client: source, destination: destination)
        default:
            throw .malformed("v2 header with address family \(family)")
        }
    }

    /// Parses a whole header held in `bytes` (either version), with the count of bytes it used;
    /// nil when `bytes` is a correct beginning that needs more bytes. For the fuzzer and unit tests;
    /// the server reads exactly through `ProxyProtocolPolicy` instead.
    public static func parse(_ bytes: [UInt8]) throws(ProxyHeaderError) -> (header: ProxyHeader, length: Int)? {
        if bytes.starts(with: v1Prefix) {
            guard let lineFeed = bytes.prefix(v1MaximumLength).firstIndex(of: 0x0A) else {
                if bytes.count >= v1MaximumLength { throw .tooLong }
                return nil
            }
            return (try parseV1(Array(bytes[...lineFeed])), lineFeed + 1)
        }
        let signatureCheck = min(bytes.count, v2Signature.count)
        if signatureCheck > 0, Array(bytes[..<signatureCheck]) == Array(v2Signature[..<signatureCheck]) {
            guard bytes.count >= v2FixedLength else { return nil }
            let fixed = Array(bytes[..<v2FixedLength])
            let length = try v2RemainingLength(fixed: fixed)
            guard bytes.count >= v2FixedLength + length else { return nil }
            return (try parseV2(fixed: fixed, rest: Array(bytes[v2FixedLength..<(v2FixedLength + length)])), v2FixedLength + length)
        }
        if bytes.count < v1Prefix.count, v1Prefix.starts(with: bytes) { return nil }
        throw .missing
    }

    private static func port(_ text: String) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt16(text)
    }

    /// Whether `text` is written as an address of `family`: four decimal octets, or IPv6 text.
    private static func isWritten(_ text: String, as family: SocketAddress.Family) -> Bool {
        switch family {
        case .ipv4: isDottedQuad(text)
        case .ipv6: text.utf8.contains(UInt8(ascii: ":"))
        }
    }

    /// v1 IPv4 addresses are four decimal octets; inet_pton agrees, this only makes the rule explicit.
    private static func isDottedQuad(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    }
}

/// Why a connection that had to start with a PROXY header is refused.
public enum ProxyHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first bytes are not a PROXY header of either version.
    case missing
    case malformed(String)
    case tooLong
    case timedOut
    /// The connection ended (or broke) inside the header.
    case closed

    public var description: String {
        switch self {
        case .missing: "no PROXY header"
        case .malformed(let why): "malformed PROXY header: \(why)"
        case .tooLong: "PROXY header too long"
        case .timedOut: "no complete PROXY header in time"
        case .closed: "connection closed inside the PROXY header"
        }
    }
}

/// `[proxy_protocol]`: which peers are balancers that must send a PROXY header, and how long to wait
/// for it. Connections from anywhere else are taken at face value and never parsed for a header.
public struct ProxyProtocolPolicy: Sendable {
    public var trustedSources: [NetworkRange]
    public var headerTimeout: TimeInterval

    public static let defaultHeaderTimeout: TimeInterval = 5

    public init(trustedSources: [NetworkRange] = [], headerTimeout: TimeInterval = defaultHeaderTimeout) {
        self.trustedSources = trustedSources
        self.headerTimeout = headerTimeout
    }

    /// Who is at the other end of an accepted connection.
    public enum Origin: Sendable, Equatable {
        /// A client: the socket's peer, or the client a trusted balancer named.
        case client(SocketAddress)
        /// A trusted balancer's own connection (v2 LOCAL: a health check), or one whose header names
        /// no client (UNKNOWN): close it quietly.
        case balancerCheck
    }

    public func expectsHeader(from peer: SocketAddress) -> Bool {
        trustedSources.contains { $0.contains(peer) }
    }

    /// The origin of `socket`: for a trusted peer the PROXY header is read (exactly its bytes, nothing
    /// of what follows) within `headerTimeout`; any other peer is its own origin.
    public func origin(of socket: Socket) throws(ProxyHeaderError) -> Origin {
        guard let peer = socket.remoteAddress else { throw .closed }
        guard expectsHeader(from: peer) else { return .client(peer) }
        switch try readHeader(from: socket) {
        case .proxied(let client, _): return .client(client)
        // No client address (v1 UNKNOWN, v2 over AF_UNSPEC or AF_UNIX): taking the balancer's own
        // address instead would put every client behind it under one ban and one per-address
        // limit, and let any such connection match another's data-connection check. Health checks
        // send these; they are closed like v2 LOCAL.
        case .unknown, .local: return .balancerCheck
        }
    }

    /// Reads one header byte-exactly: the first six bytes tell v1 from v2; a v1 line is then read a
    /// byte at a time up to its LF (at most 107 bytes), a v2 header by its length field.
    func readHeader(from socket: Socket) throws(ProxyHeaderError) -> ProxyHeader {
        let deadline = Date().addingTimeInterval(headerTimeout)
        var bytes = try read(exactly: ProxyHeader.v1Prefix.count, from: socket, deadline: deadline)
        if bytes == ProxyHeader.v1Prefix {
            while bytes.last != 0x0A {
                guard bytes.count < ProxyHeader.v1MaximumLength else { throw .tooLong }
                bytes += try read(exactly: 1, from: socket, deadline: deadline)
            }
            return try ProxyHeader.parseV1(bytes)
        }
        guard Array(ProxyHeader.v2Signature.prefix(bytes.count)) == bytes else { throw .missing }
        bytes += try read(exactly: ProxyHeader.v2FixedLength - bytes.count, from: socket, deadline: deadline)
        let length = try ProxyHeader.v2RemainingLength(fixed: bytes)
        let rest = try read(exactly: length, from: socket, deadline: deadline)
        return try ProxyHeader.parseV2(fixed: bytes, rest: rest)
    }

    private func read(exactly count: Int, from socket: Socket, deadline: Date) throws(ProxyHeaderError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw .timedOut }
            let outcome: Result<Int, SocketError> = result.withUnsafeMutableBytes { buffer in
                do throws(SocketError) {
                    return .success(try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), timeout: remaining))
                } catch {
                    return .failure(error)
                }
            }
            switch outcome {
            case .success(0): throw .closed
            case .success(let n): filled += n
            case .failure(.timedOut): throw .timedOut
            case .failure: throw .closed
            }
        }
        return result
    }
}
