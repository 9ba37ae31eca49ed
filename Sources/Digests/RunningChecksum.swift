internal import COpenSSL

/// The checksums clients can ask for (FTP HASH, draft-bryan-ftpext-hash-02; SFTP check-file,
/// draft-ietf-secsh-filexfer-extensions-00 §3).
public enum ChecksumAlgorithm: String, CaseIterable, Sendable {
    case sha256 = "SHA-256"
    case sha1 = "SHA-1"
    case md5 = "MD5"
    case crc32 = "CRC32"

    /// The name in SFTP's check-file extension.
    public var sftpName: String {
        switch self {
        case .sha256: "sha256"
        case .sha1: "sha1"
        case .md5: "md5"
        case .crc32: "crc32"
        }
    }

    public init?(sftpName: String) {
        guard let found = Self.allCases.first(where: { $0.sftpName == sftpName.lowercased() }) else { return nil }
        self = found
    }

    /// FTP names, case-insensitive (`SHA-256`, also `SHA256` as some clients write it).
    public init?(ftpName: String) {
        let upper = ftpName.uppercased()
        guard let found = Self.allCases.first(where: { $0.rawValue == upper || $0.rawValue.filter { $0 != "-" } == upper }) else {
            return nil
        }
        self = found
    }
}

/// A checksum over bytes that arrive in pieces (a download stream): OpenSSL's digests, and CRC-32
/// (IEEE 802.3, as zlib and FTP's XCRC compute it) in Swift.
public final class RunningChecksum {
    public let algorithm: ChecksumAlgorithm
    private let context: OpaquePointer?
    private var crc: UInt32 = 0xFFFF_FFFF

    public init(_ algorithm: ChecksumAlgorithm) throws(DigestError) {
        self.algorithm = algorithm
        let type: OpaquePointer? = switch algorithm {
        case .sha256: EVP_sha256()
        case .sha1: EVP_sha1()
        case .md5: EVP_md5()
        case .crc32: nil
        }
        guard let type else {
            context = nil
            return
        }
        guard let context = EVP_MD_CTX_new() else { throw DigestError(algorithm: algorithm.rawValue) }
        guard EVP_DigestInit_ex(context, type, nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw DigestError(algorithm: algorithm.rawValue)
        }
        self.context = context
    }

    deinit { if let context { EVP_MD_CTX_free(context) } }

    public func update(_ bytes: UnsafeRawBufferPointer) throws(DigestError) {
        guard !bytes.isEmpty else { return }
        if let context {
            guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else {
                throw DigestError(algorithm: algorithm.rawValue)
            }
            return
        }
        var value = crc
        for byte in bytes { value = Self.crcTable[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
        crc = value
    }

    /// The digest (CRC-32 as four bytes, most significant first).
    public func finish() throws(DigestError) -> [UInt8] {
        guard let context else {
            let value = crc ^ 0xFFFF_FFFF
            return [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &out, &length) == 1 else { throw DigestError(algorithm: algorithm.rawValue) }
        return Array(out[0..<Int(length)])
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }
}
