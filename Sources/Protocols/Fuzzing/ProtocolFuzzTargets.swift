import Storage
import PathRules

/// Entry points for the fuzzer (`make fuzz`) and for the corpus replay in the unit tests: each takes
/// arbitrary bytes and drives one parser the way the server does. A target must never crash on any
/// input; the ones with a property (`path`) trap when it is violated, which the fuzzer reports.
public enum ProtocolFuzzTargets {
    /// The FTP control stream: the bytes (fed in two pieces, split where the first byte says) become
    /// lines; each line is split into verb and argument by the command table, and the argument goes
    /// through the parser of its verb (PORT, EPRT, REST, OPTS MLST, LIST options).
    public static func ftpControl(_ data: [UInt8]) {
        var reader = FTPLineReader()
        let split = data.isEmpty ? 0 : Int(data[0]) % (data.count + 1)
        reader.feed(data[..<split])
        var lines: [String] = []
        while let input = reader.nextLine() { if case .line(let text) = input { lines.append(text) } }
        reader.feed(data[split...])
        while let input = reader.nextLine() { if case .line(let text) = input { lines.append(text) } }
        for line in lines {
            let (verb, argument) = FTPCommandTable.parse(line)
            switch verb {
            case "PORT": _ = FTPArguments.port(argument)
            case "EPRT": _ = FTPArguments.eprt(argument)
            case "REST": _ = FTPArguments.restartOffset(argument)
            case "OPTS": _ = FTPArguments.mlstFacts(FTPCommandTable.parse(argument).argument)
            case "LIST", "NLST", "STAT", "MLSD":
                let request = FTPListRequest(argument: argument)
                _ = try? VirtualPath.resolve(request.path)
            default: _ = FTPCommandTable.byVerb[verb]
            }
        }
    }

    /// The PROXY protocol header parser (v1 and v2) on arbitrary bytes, with its promise to the
    /// reader as a property: a header that parses from `n` bytes needs all of them (one byte fewer is
    /// "incomplete", never a different header).
    public static func proxyHeader(_ data: [UInt8]) {
        guard let (_, length) = try? ProxyHeader.parse(data) else { return }
        precondition(length > 0 && length <= data.count, "header length \(length) outside the input")
        if let shorter = try? ProxyHeader.parse(Array(data[..<(length - 1)])) {
            preconditionFailure("a prefix of \(length - 1) bytes parsed as \(shorter)")
        }
    }

    /// The path resolver's promise, as a property: the bytes up to the first NUL are a working
    /// directory, the rest a client path. Whatever they are, the result's components are plain names,
    /// the key built under a home prefix stays under it, and resolving the result again changes nothing.
    public static func path(_ data: [UInt8]) {
        let cut = data.firstIndex(of: 0) ?? data.count
        let directory = (try? VirtualPath.resolve(bytes: Array(data[..<cut]))) ?? .root
        let input = cut < data.count ? Array(data[(cut + 1)...]) : Array(data)
        guard let path = try? VirtualPath.resolve(bytes: input, from: directory) else { return }
        for component in path.components {
            precondition(KeyBytes.problem(withName: component.utf8) == nil, "resolver produced \(component.debugDescription)")
        }
        let home = "users/alice/"
        let key = home + path.components.joined(separator: "/")
        let segments = (try? KeyBytes.plainComponents(ofKey: key)) ?? []
        precondition(segments.count == path.components.count + 2 || (path.isRoot && segments.count == 2),
                     "key \(key.debugDescription) does not split back into its components")
        precondition(segments.prefix(2) == ["users", "alice"], "key \(key.debugDescription) left the home")
        precondition(path.description.utf8.count <= VirtualPath.maxPathBytes)
        precondition((try? VirtualPath.resolve(path.description)) == path, "resolving \(path) again changed it")
    }

    /// The SFTP framer and request decoder: the bytes arrive in pieces of sizes the input chooses;
    /// every complete packet is decoded (attributes, strings, extensions). Returns how many packets
    /// decoded as requests (the corpus test checks that every seed reaches the decoder).
    @discardableResult
    public static func sftp(_ data: [UInt8]) -> Int {
        var decoded = 0
        var framer = SFTPFramer(maximumPacketLength: 256 * 1024 + 1024)
        var offset = 0
        var step = 1
        while offset < data.count {
            step = Int(data[offset]) % 64 + step % 7 + 1
            let end = min(data.count, offset + step)
            framer.append(data[offset..<end])
            offset = end
            while true {
                // nil: the packet is not complete yet, wait for the next piece. (A `try?` here once
                // ended the run at the first incomplete packet, so almost nothing was decoded.)
                let packet: ArraySlice<UInt8>?
                do { packet = try framer.nextPacket() } catch { return decoded }  // the session ends
                guard let packet else { break }
                if (try? SFTPRequest.decode(packet)) != nil { decoded += 1 }
            }
        }
        return decoded
    }

    /// scp: the command line of an exec request (scp, or a checksum command, whose output line must
    /// hold exactly one line feed), and the C/D lines of the rcp protocol, whose names must come out
    /// as single plain names or be refused.
    public static func scp(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        if let command = SCPCommand.parse(text) {
            for path in command.paths { _ = try? VirtualPath.resolve(path) }
        }
        if let checksum = SSHChecksumCommand.parse(text) {
            for path in checksum.paths {
                _ = try? VirtualPath.resolve(path)
                let line = SSHChecksumCommand.line(digest: [0xAB], name: path)
                precondition(line.filter { $0 == UInt8(ascii: "\n") }.count == 1, "checksum line for \(path.debugDescription) is not one line")
            }
        }
        // Control lines are bytes up to "\n", as `SCPSession.readLine` reads them; the kind byte
        // comes first and the rest is decoded the way the receive loop does.
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let rest = String(decoding: line.dropFirst(), as: UTF8.self)
            guard let (_, name) = SCPSession.parseEntry(rest) else { continue }
            if let child = try? VirtualPath.root.appending(name) {
                precondition(child.components.count == 1, "scp name \(name.debugDescription) became \(child)")
            }
        }
    }
}
