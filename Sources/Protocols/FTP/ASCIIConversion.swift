/// TYPE A line-ending conversion (RFC 959 §3.1.1.1): the network form ends lines with CRLF, stored
/// files with LF. Both directions keep state across chunk boundaries.
struct ASCIIConverter {
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let lineFeed = UInt8(ascii: "\n")

    private var previousWasCarriageReturn = false
    private var heldCarriageReturn = false

    /// Stored → network (RETR): every LF not already preceded by CR becomes CRLF.
    mutating func toNetwork(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(input.count + input.count / 16)
        for byte in input {
            if byte == Self.lineFeed && !previousWasCarriageReturn { output.append(Self.carriageReturn) }
            output.append(byte)
            previousWasCarriageReturn = byte == Self.carriageReturn
        }
    }

    /// Network → stored (STOR): CRLF becomes LF; a lone CR is kept. A CR at the end of a chunk is held
    /// until the next byte shows whether an LF follows.
    mutating func fromNetwork(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(input.count + 1)
        for byte in input {
            if heldCarriageReturn {
                heldCarriageReturn = false
                if byte != Self.lineFeed { output.append(Self.carriageReturn) }
            }
            if byte == Self.carriageReturn {
                heldCarriageReturn = true
            } else {
                output.append(byte)
            }
        }
    }

    /// Bytes still held at the end of an upload (a final lone CR).
    mutating func finishFromNetwork() -> [UInt8] {
        defer { heldCarriageReturn = false }
        return heldCarriageReturn ? [Self.carriageReturn] : []
    }
}
