/// Why a packet could not be decoded. The engine answers BAD_MESSAGE (or closes the session for a
/// framing error) and logs the reason.
enum SFTPDecodeError: Error, Equatable, Sendable {
    case truncated
    case unknownType(UInt8)
    case oversized(length: Int, limit: Int)
    case invalidField(String)
}
