import Digests
import Foundation
import Storage

/// SFTP extensions (draft-02 §8: SSH_FXP_EXTENDED, announced in VERSION), OpenSSH's
/// PROTOCOL file and draft-ietf-secsh-filexfer-extensions-00 (home-directory, copy-data).
enum SFTPExtension: String, CaseIterable {
    case posixRename = "posix-rename@openssh.com"
    case statvfs = "statvfs@openssh.com"
    case fsync = "fsync@openssh.com"
    case limits = "limits@openssh.com"
    case expandPath = "expand-path@openssh.com"
    case lsetstat = "lsetstat@openssh.com"
    case homeDirectory = "home-directory"
    case copyData = "copy-data"
    case checkFileName = "check-file-name"
    case checkFileHandle = "check-file-handle"
    /// check-file-handle under the name paramiko's `SFTPFile.check` sends (an earlier draft's).
    case checkFile = "check-file"

    /// The version string each extension is announced with.
    var version: String {
        switch self {
        case .statvfs: "2"
        case .posixRename, .fsync, .limits, .expandPath, .lsetstat, .homeDirectory, .copyData: "1"
        // draft-ietf-secsh-filexfer-extensions-00 §3.1 announces check-file with its algorithms.
        case .checkFileName, .checkFileHandle, .checkFile: ChecksumAlgorithm.allCases.map(\.sftpName).joined(separator: ",")
        }
    }

    static var advertised: [(name: String, data: String)] { allCases.map { ($0.rawValue, $0.version) } }
}

/// statvfs flag bits (OpenSSH PROTOCOL §4.4).
enum SFTPStatvfsFlag {
    static let readOnly: UInt64 = 0x1
    static let noSetuid: UInt64 = 0x2
}

extension SFTPEngine {
    /// Capacity reported by statvfs: object storage has no fixed size, so a large round figure
    /// (1 PiB in 4 KiB blocks) keeps clients from refusing uploads for lack of space.
    static let reportedBlockSize: UInt64 = 4096
    static let reportedBlocks: UInt64 = (1 << 50) / 4096

    func extended(id: UInt32, name: String, payload: [UInt8]) throws(SFTPFailure) -> SFTPReply {
        guard let known = SFTPExtension(rawValue: name) else {
            throw .status(.operationUnsupported, "Unsupported extension \(name)")
        }
        var reader = SFTPReader(payload)
        do {
            switch known {
            case .posixRename:
                let source = try resolve(try reader.string()), target = try resolve(try reader.string())
                try sessionCall { () throws(SessionError) in try session.rename(source, to: target, replacing: true) }
                return .ok(id)
            case .statvfs:
                let path = try resolve(try reader.string())
                let info = try sessionCall { () throws(SessionError) in try session.stat(path) }
                return .extendedReply(id: id, payload: statvfs(writable: info.permissions.canWrite))
            case .fsync:
                // Uploads are published whole at CLOSE; there is nothing durable to flush before it.
                _ = try handles.item(try reader.string())
                return .ok(id)
            case .limits:
                var writer = SFTPWriter()
                writer.uint64(UInt64(settings.maxPacketLength))
                writer.uint64(UInt64(settings.maxReadLength))
                writer.uint64(UInt64(settings.maxWriteLength))
                writer.uint64(UInt64(settings.maxOpenHandles))
                return .extendedReply(id: id, payload: writer.bytes)
            case .expandPath:
                let path = try resolve(Self.expandTilde(try reader.string()))
                return .name(id: id, entries: [SFTPNameEntry(filename: Array(path.description.utf8),
                                                             longname: path.description, attributes: .empty)])
            case .lsetstat:
                let path = try resolve(try reader.string())
                try setstat(path, try reader.attributes())
                return .ok(id)
            case .homeDirectory:
                let user = try reader.utf8String()
                guard user.isEmpty || user == session.user.name else {
                    throw SFTPFailure.status(.noSuchFile, "No such user")
                }
                return .name(id: id, entries: [SFTPNameEntry(filename: Array("/".utf8), longname: "/", attributes: .empty)])
            case .copyData:
                try copyData(from: try reader.string(), offset: try reader.uint64(), length: try reader.uint64(),
                             to: try reader.string(), offset: try reader.uint64())
                return .ok(id)
            case .checkFileName, .checkFileHandle, .checkFile:
                let path: VirtualPath
                if known == .checkFileName {
                    path = try resolve(try reader.string())
                } else {
                    switch try handles.item(try reader.string()) {
                    case .file(let file): path = file.path
                    case .upload, .directory: throw SFTPFailure.status(.failure, "check-file: the handle is not a file open for reading")
                    }
                }
                let requested = try reader.utf8String().split(separator: ",").map { String($0) }
                let start = try reader.uint64(), length = try reader.uint64(), blockSize = try reader.uint32()
                return .extendedReply(id: id, payload: try checkFile(path, algorithms: requested, start: start,
                                                                     length: length, blockSize: blockSize))
            }
        } catch let error as SFTPDecodeError {
            logger.info("malformed SFTP extension request", metadata: ["extension": "\(name)", "reason": "\(error)"])
            throw .status(.badMessage, "Malformed \(name) request")
        } catch let error as SFTPFailure {
            throw error
        } catch {
            throw .status(.failure, "Internal error")
        }
    }

    /// check-file (draft-ietf-secsh-filexfer-extensions-00 §3): the first algorithm of the client's
    /// list that Ferry has, over the whole file as one block (ranges and block lists are refused
    /// with OP_UNSUPPORTED: object storage offers nothing cheaper than reading them).
    private func checkFile(_ path: VirtualPath, algorithms: [String], start: UInt64, length: UInt64,
                           blockSize: UInt32) throws(SFTPFailure) -> [UInt8] {
        guard let algorithm = algorithms.lazy.compactMap({ ChecksumAlgorithm(sftpName: $0) }).first else {
            throw .status(.operationUnsupported, "check-file: none of \(algorithms.joined(separator: ",")) is supported")
        }
        let wholeFile: Bool
        if start != 0 {
            wholeFile = false
        } else if length == 0 && blockSize == 0 {
            wholeFile = true
        } else {
            let size = try sessionCall { () throws(SessionError) in try session.stat(path).size }
            wholeFile = (length == 0 || length == size) && (blockSize == 0 || UInt64(blockSize) >= size)
        }
        guard wholeFile else { throw .status(.operationUnsupported, "check-file: only the whole file, as one block") }
        let (digest, _) = try sessionCall { () throws(SessionError) in try session.checksum(path, algorithm) }
        var writer = SFTPWriter()
        writer.string("check-file")
        writer.string(algorithm.sftpName)
        var payload = writer.bytes
        payload += digest  // the hashes follow without a length (§3.2)
        return payload
    }

    /// `~` and `~/x` are the home, which is `/` for every SFTP user (expand-path@openssh.com).
    private static func expandTilde(_ path: [UInt8]) -> [UInt8] {
        let tilde = UInt8(ascii: "~"), slash = UInt8(ascii: "/")
        guard path.first == tilde else { return path }
        if path.count == 1 { return [slash] }
        if path[1] == slash { return Array(path[1...]) }
        return path  // ~otheruser: resolved literally (a name inside the home)
    }

    private func statvfs(writable: Bool) -> [UInt8] {
        var writer = SFTPWriter()
        let files: UInt64 = 1 << 32
        for value in [Self.reportedBlockSize, Self.reportedBlockSize, Self.reportedBlocks, Self.reportedBlocks,
                      Self.reportedBlocks, files, files, files, 0,
                      SFTPStatvfsFlag.noSetuid | (writable ? 0 : SFTPStatvfsFlag.readOnly),
                      UInt64(VirtualPath.maxNameBytes)] {
            writer.uint64(value)
        }
        return writer.bytes
    }

    /// copy-data: a whole file into a freshly opened, untouched write handle is a server-side copy
    /// (no bytes through Ferry); any other range is streamed through the two handles, and so is a
    /// handle opened with CREAT|EXCL, whose upload creates only (`UploadMode.create`; a copy would
    /// replace a file that appeared since the OPEN).
    private func copyData(from readHandle: [UInt8], offset readOffset: UInt64, length: UInt64,
                          to writeHandle: [UInt8], offset writeOffset: UInt64) throws(SFTPFailure) {
        guard case .file(let source) = try handles.item(readHandle) else {
            throw .status(.failure, "copy-data: the source handle is not a file open for reading")
        }
        guard case .upload(let target) = try handles.item(writeHandle) else {
            throw .status(.failure, "copy-data: the target handle is not a file open for writing")
        }
        let wholeFile = readOffset == 0 && (length == 0 || length >= source.info.size) && writeOffset == 0
        if wholeFile, !target.createsOnly, target.upload == nil, target.failure == nil, target.bytesReceived == 0,
           !target.completedByCopy {
            let from = source.path, to = target.path
            try sessionCall { () throws(SessionError) in try session.copyFile(from, to: to) }
            target.completedByCopy = true
            logger.info("server-side copy", metadata: ["user": "\(session.user.name)", "from": "\(from)", "to": "\(to)"])
            return
        }
        // Client-chosen offsets and lengths: saturating sums, never an overflow trap.
        guard readOffset < source.info.size else { return }
        let available = source.info.size - readOffset
        let total = length == 0 ? available : min(available, length)
        guard writeOffset <= UInt64.max - total else { throw .status(.failure, "copy-data: offset out of range") }
        var copied: UInt64 = 0
        while copied < total {
            let chunk = Int(min(UInt64(settings.maxWriteLength), total - copied))
            let data = try readData(source, at: readOffset + copied, length: chunk)
            if data.isEmpty { break }
            try write(writeHandle, offset: writeOffset + copied, data: data[...])
            copied += UInt64(data.count)
        }
    }
}
