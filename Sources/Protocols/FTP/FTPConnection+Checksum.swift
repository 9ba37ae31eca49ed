import Digests
import Foundation

/// HASH (draft-bryan-ftpext-hash-02) and the X commands (XMD5, XSHA1, XSHA256, XCRC): a file's
/// checksum on the control connection, from `Session.checksum`.
extension FTPConnection {
    /// `213 <algorithm> 0-<end> <hex> <path>` (draft §3.1; the range is the whole file, RANG is
    /// not offered).
    func handleHASH(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "HASH") else { return }
        let algorithm = selectedHash
        do {
            let (digest, size) = try session.checksum(path, algorithm)
            let end = size == 0 ? 0 : size - 1
            reply(.fileStatus, "\(algorithm.rawValue) 0-\(end) \(Digest.hex(digest)) \(argument)")
        } catch {
            reply(for: error, command: "HASH")
        }
    }

    /// `250 <hex>`, as ProFTPD's mod_digest and the clients that send these commands expect.
    func handleXHash(_ argument: String, _ algorithm: ChecksumAlgorithm, verb: String) {
        guard let session, let path = resolvePath(argument, command: verb) else { return }
        do {
            let (digest, _) = try session.checksum(path, algorithm)
            reply(.fileActionOkay, Digest.hex(digest))
        } catch {
            reply(for: error, command: verb)
        }
    }
}
