import Foundation

/// An SSH public key in OpenSSH `authorized_keys` form (`ssh-ed25519 AAAA… comment`), kept for
/// public-key logins. The blob's embedded algorithm name must match the declared one.
public struct SSHPublicKey: Sendable, Hashable {
    public static let supportedAlgorithms: Set<String> = [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]

    public var algorithm: String
    /// The wire-format key blob (RFC 4253 §6.6).
    public var blob: [UInt8]
    public var comment: String

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformed
        case unsupportedAlgorithm(String)
        case badBase64
        case algorithmMismatch(declared: String, embedded: String)

        public var description: String {
            switch self {
            case .malformed: "expected \"<algorithm> <base64 key> [comment]\""
            case .unsupportedAlgorithm(let name): "unsupported key type \(name.debugDescription)"
            case .badBase64: "the key data is not valid base64"
            case .algorithmMismatch(let declared, let embedded):
                "the key says \(declared) but its data holds a \(embedded) key"
            }
        }
    }

    public init(parsing line: String) throws(ParseError) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2 else { throw .malformed }
        let algorithm = String(fields[0])
        guard Self.supportedAlgorithms.contains(algorithm) else { throw .unsupportedAlgorithm(algorithm) }
        guard let data = Data(base64Encoded: String(fields[1])), data.count > 4 else { throw .badBase64 }
        let blob = [UInt8](data)
        let nameLength = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard nameLength > 0, 4 + nameLength <= blob.count else { throw .malformed }
        let embedded = String(decoding: blob[4..<4 + nameLength], as: UTF8.self)
        guard embedded == algorithm else { throw .algorithmMismatch(declared: algorithm, embedded: embedded) }
        self.algorithm = algorithm
        self.blob = blob
        self.comment = fields.dropFirst(2).joined(separator: " ")
    }
}
