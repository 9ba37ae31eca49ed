import Foundation
import Logging

/// Runs one SFTP session over a channel until the client leaves, the session is idle too long,
/// the framing breaks, or the gateway stops (then only once no file is open). Open uploads are
/// aborted when it ends without their CLOSE.
struct SFTPServerLoop {
    /// Framing slack over the advertised packet length: some clients size a WRITE's data, not the
    /// whole packet, by the limit.
    static let framingSlack = 1024
    static let receiveSize = 512 * 1024

    let engine: SFTPEngine
    let channel: any ChannelIO
    let shutdown: ShutdownSignal

    func run() {
        let logger = engine.logger
        var framer = SFTPFramer(maximumPacketLength: engine.settings.maxPacketLength + Self.framingSlack)
        var lastRequest = Date()
        defer { engine.closeAll() }
        do {
            while true {
                if shutdown.isRequested && engine.handles.count == 0 {
                    logger.info("SFTP session closed: the server is stopping")
                    return
                }
                if engine.handles.count == 0 && (engine.userRemoved || engine.session.refreshUser() == .removed) {
                    logger.info("SFTP session closed: the user was removed by a configuration reload")
                    return
                }
                let received = try framer.receive(space: Self.receiveSize) { raw throws(ChannelError) in
                    try channel.read(into: raw, timeout: 1)
                }
                guard let received else {
                    logger.debug("SFTP channel closed by the client")
                    return
                }
                if received == 0 {
                    if Date().timeIntervalSince(lastRequest) > engine.settings.idleTimeout {
                        logger.info("SFTP session closed: idle timeout",
                                    metadata: ["seconds": "\(Int(engine.settings.idleTimeout))"])
                        return
                    }
                    continue
                }
                lastRequest = Date()
                while let packet = try nextPacket(&framer) {
                    try channel.write(engine.respond(to: packet).encoded)
                }
                // A long request (a directory rename, a big copy) is activity, not idleness.
                lastRequest = Date()
            }
        } catch let error as SFTPSessionEnd {
            logger.warning("SFTP session closed", metadata: ["reason": "\(error)"])
        } catch {
            logger.info("SFTP channel failed", metadata: ["reason": "\(error)"])
        }
    }

    private func nextPacket(_ framer: inout SFTPFramer) throws(SFTPSessionEnd) -> ArraySlice<UInt8>? {
        do {
            return try framer.nextPacket()
        } catch {
            throw .framing("\(error)")
        }
    }
}
