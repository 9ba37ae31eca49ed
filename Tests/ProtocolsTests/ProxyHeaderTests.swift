import Foundation
import Testing
@testable import Protocols

@Suite struct NetworkRangeTests {
    @Test func parsesAndMatchesIPv4() throws {
        let network = try #require(NetworkRange(parsing: "10.0.0.0/8"))
        #expect(network.contains(SocketAddress(host: "10.255.1.2", port: 0)!))
        #expect(!network.contains(SocketAddress(host: "11.0.0.1", port: 0)!))
        #expect(!network.contains(SocketAddress(host: "::1", port: 0)!))
        let host = try #require(NetworkRange(parsing: "192.0.2.7"))
        #expect(host.prefixLength == 32)
        #expect(host.contains(SocketAddress(host: "192.0.2.7", port: 1)!))
        #expect(!host.contains(SocketAddress(host: "192.0.2.8", port: 1)!))
        #expect(try #require(NetworkRange(parsing: "0.0.0.0/0")).contains(SocketAddress(host: "203.0.113.9", port: 0)!))
        #expect(try #require(NetworkRange(parsing: "172.16.0.0/12")).contains(SocketAddress(host: "172.31.255.255", port: 0)!))
        #expect(!(try #require(NetworkRange(parsing: "172.16.0.0/12")).contains(SocketAddress(host: "172.32.0.0", port: 0)!)))
    }

    @Test func parsesAndMatchesIPv6() throws {
        let network = try #require(NetworkRange(parsing: "fd00::/8"))
        #expect(network.contains(SocketAddress(host: "fd12:3456::1", port: 0)!))
        #expect(!network.contains(SocketAddress(host: "fe80::1", port: 0)!))
        #expect(!network.contains(SocketAddress(host: "10.0.0.1", port: 0)!))
        // An IPv4-mapped peer is IPv4 in SocketAddress, so an IPv4 network matches it.
        #expect(try #require(NetworkRange(parsing: "127.0.0.0/8")).contains(SocketAddress(host: "::ffff:127.0.0.1", port: 0)!))
        #expect(network.description == "fd00::/8")
    }

    @Test(arguments: ["", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.1.0.0/8", "host/8", "::/129",
                      "10.0.0.0/8/8", "10.0.0.0/08x", " 10.0.0.0/8"])
    func refusesMalformed(_ text: String) {
        #expect(NetworkRange(parsing: text) == nil, "\(text.debugDescription) was accepted")
    }
}

@Suite struct ProxyHeaderTests {
    static let signature = ProxyHeader.v2Signature

    static func v2(command: UInt8 = 0x1, family: UInt8 = 0x1, transport: UInt8 = 0x1, body: [UInt8]) -> [UInt8] {
        signature + [0x20 | command, family << 4 | transport, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static let inetBody: [UInt8] = [192, 0, 2, 7, 127, 0, 0, 11, 0xC8, 0x22, 0x08, 0x4A]  // ports 51234, 2122

    @Test func v1TCP4() throws {
        let bytes = Array("PROXY TCP4 192.0.2.7 127.0.0.11 51234 2121\r\nUSER x\r\n".utf8)
        let parsed = try #require(try ProxyHeader.parse(bytes))
        #expect(parsed.header == .proxied(client: SocketAddress(host: "192.0.2.7", port: 51234)!,
                                          destination: SocketAddress(host: "127.0.0.11", port: 2121)!))
        #expect(parsed.length == 44)
    }

    @Test func v1TCP6AndUnknown() throws {
        let v6 = try #require(try ProxyHeader.parse(Array("PROXY TCP6 2001:db8::7 ::1 1 65535\r\n".utf8)))
        #expect(v6.header == .proxied(client: SocketAddress(host: "2001:db8::7", port: 1)!, destination: SocketAddress(host: "::1", port: 65535)!))
        #expect(try ProxyHeader.parse(Array("PROXY UNKNOWN\r\n".utf8))?.header == .unknown)
        // A dual-stack balancer writes an IPv4 client as an IPv4-mapped IPv6 address under TCP6.
        let mapped = try #require(try ProxyHeader.parse(Array("PROXY TCP6 ::ffff:192.0.2.7 ::ffff:10.0.0.11 40000 21\r\n".utf8)))
        #expect(mapped.header == .proxied(client: SocketAddress(host: "192.0.2.7", port: 40000)!,
                                          destination: SocketAddress(host: "10.0.0.11", port: 21)!))
        #expect(try ProxyHeader.parse(Array("PROXY UNKNOWN ffff::1 ::1 1 2\r\n".utf8))?.header == .unknown)
    }

    @Test(arguments: [
        "PROXY TCP4 192.0.2.7 127.0.0.11 51234\r\n",          // a field missing
        "PROXY TCP4 192.0.2.7 127.0.0.11 51234 2121 9\r\n",   // one too many
        "PROXY TCP4 192.0.2.7  127.0.0.11 51234 2121\r\n",    // two spaces
        "PROXY TCP4 ::1 ::1 1 2\r\n",                         // family mismatch
        "PROXY TCP6 192.0.2.7 127.0.0.1 1 2\r\n",           // IPv4 text under TCP6
        "PROXY TCP4 192.0.2.7 127.0.0.11 65536 2121\r\n",     // port out of range
        "PROXY TCP4 192.0.2.7 127.0.0.11 0123 2121\r\n",      // leading zero
        "PROXY TCP4 192.0.2 127.0.0.11 1 2\r\n",
        "PROXY UDP4 192.0.2.7 127.0.0.11 1 2\r\n",
        "PROXY TCP4 192.0.2.7 127.0.0.11 1 2\n",              // LF without CR
        "PROXY TCP4 192.0.2.7\r127.0.0.11 1 2\r\n",
    ])
    func v1Malformed(_ text: String) {
        #expect(throws: ProxyHeaderError.self) { try ProxyHeader.parse(Array(text.utf8)) }
    }

    @Test func v1TooLongAndIncomplete() throws {
        #expect(try ProxyHeader.parse(Array("PROXY TCP4 192.0.2.7".utf8)) == nil)
        #expect(try ProxyHeader.parse(Array("PRO".utf8)) == nil)
        let long = Array(("PROXY TCP4 " + String(repeating: "1", count: 120)).utf8)
        #expect(throws: ProxyHeaderError.tooLong) { try ProxyHeader.parse(long) }
        #expect(throws: ProxyHeaderError.missing) { try ProxyHeader.parse(Array("USER anonymous\r\n".utf8)) }
        #expect(throws: ProxyHeaderError.missing) { try ProxyHeader.parse(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)) }
    }

    @Test func v2InetInet6LocalAndTLVs() throws {
        let inet = try #require(try ProxyHeader.parse(Self.v2(body: Self.inetBody) + Array("rest".utf8)))
        #expect(inet.header == .proxied(client: SocketAddress(host: "192.0.2.7", port: 51234)!,
                                        destination: SocketAddress(host: "127.0.0.11", port: 2122)!))
        #expect(inet.length == 28)
        let withTLV = Self.v2(body: Self.inetBody + [0x04, 0x00, 0x02, 0xAB, 0xCD])
        #expect(try ProxyHeader.parse(withTLV)?.header == inet.header)
        let inet6Body: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [7] + [UInt8](repeating: 0, count: 15) + [1, 0, 80, 0, 22]
        #expect(try ProxyHeader.parse(Self.v2(family: 0x2, body: inet6Body))?.header
                == .proxied(client: SocketAddress(host: "2001:db8::7", port: 80)!, destination: SocketAddress(host: "::1", port: 22)!))
        #expect(try ProxyHeader.parse(Self.v2(command: 0x0, family: 0, transport: 0, body: []))?.header == .local)
        #expect(try ProxyHeader.parse(Self.v2(family: 0, transport: 0, body: []))?.header == .unknown)
        #expect(try ProxyHeader.parse(Self.v2(family: 0x3, body: [UInt8](repeating: 0, count: 216)))?.header == .unknown)
    }

    @Test func v2Malformed() throws {
        let good = Self.v2(body: Self.inetBody)
        var version1 = good; version1[12] = 0x11
        var command2 = good; command2[12] = 0x22
        var family5 = good; family5[13] = 0x51
        var datagram = good; datagram[13] = 0x12
        let shortBody = Self.v2(body: Array(Self.inetBody.prefix(8)))
        for bad in [version1, command2, family5, datagram, shortBody] {
            #expect(throws: ProxyHeaderError.self) { try ProxyHeader.parse(bad) }
        }
        #expect(try ProxyHeader.parse(Array(good.prefix(20))) == nil)
        #expect(try ProxyHeader.parse(Array(good.prefix(5))) == nil)
        let huge = Self.signature + [0x21, 0x11, 0xFF, 0xFF]
        #expect(throws: ProxyHeaderError.tooLong) { try ProxyHeader.parse(huge) }
    }

    /// The reader takes exactly the header's bytes from the socket: what follows stays for the protocol.
    @Test func readerLeavesTheRestOnTheSocket() throws {
        let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!)
        let client = try Socket.connect(to: listener.localAddress!, timeout: 5)
        let server = try #require(try listener.accept(timeout: 5))
        try client.writeAll(Self.v2(body: Self.inetBody) + Array("USER x\r\n".utf8), timeout: 5)
        let policy = ProxyProtocolPolicy(trustedSources: [NetworkRange(parsing: "127.0.0.0/8")!], headerTimeout: 2)
        #expect(try policy.origin(of: server) == .client(SocketAddress(host: "192.0.2.7", port: 51234)!))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try buffer.withUnsafeMutableBytes { try server.read(into: $0, timeout: 2) }
        #expect(String(decoding: buffer[..<count], as: UTF8.self) == "USER x\r\n")

        // v1, byte by byte, then the client's first line.
        let second = try Socket.connect(to: listener.localAddress!, timeout: 5)
        let secondServer = try #require(try listener.accept(timeout: 5))
        try second.writeAll(Array("PROXY TCP4 198.51.100.1 127.0.0.1 4000 21\r\nSSH-2.0-x\r\n".utf8), timeout: 5)
        #expect(try policy.origin(of: secondServer) == .client(SocketAddress(host: "198.51.100.1", port: 4000)!))
        let rest = try buffer.withUnsafeMutableBytes { try secondServer.read(into: $0, timeout: 2) }
        #expect(String(decoding: buffer[..<rest], as: UTF8.self) == "SSH-2.0-x\r\n")

        // A header naming no client is the balancer's own connection, never "the balancer as client".
        let third = try Socket.connect(to: listener.localAddress!, timeout: 5)
        let thirdServer = try #require(try listener.accept(timeout: 5))
        try third.writeAll(Array("PROXY UNKNOWN\r\n".utf8), timeout: 5)
        #expect(try policy.origin(of: thirdServer) == .balancerCheck)
    }

    @Test func readerTimesOutAndRefusesUntrustedHeaders() throws {
        let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0)!)
        let client = try Socket.connect(to: listener.localAddress!, timeout: 5)
        let server = try #require(try listener.accept(timeout: 5))
        try client.writeAll(Array("PROXY TCP4 1".utf8), timeout: 5)
        let policy = ProxyProtocolPolicy(trustedSources: [NetworkRange(parsing: "127.0.0.1")!], headerTimeout: 0.3)
        #expect(throws: ProxyHeaderError.timedOut) { try policy.origin(of: server) }
        // Not trusted: the peer is the origin and nothing is read.
        let untrusted = ProxyProtocolPolicy(trustedSources: [NetworkRange(parsing: "10.0.0.0/8")!])
        let other = try Socket.connect(to: listener.localAddress!, timeout: 5)
        let otherServer = try #require(try listener.accept(timeout: 5))
        try other.writeAll(Array("PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n".utf8), timeout: 5)
        let peer = try #require(otherServer.remoteAddress)
        #expect(try untrusted.origin(of: otherServer) == .client(peer))
    }
}
