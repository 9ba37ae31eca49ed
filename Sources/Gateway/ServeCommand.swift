import ArgumentParser
import Dispatch
import Foundation
import Locking
import Logging

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve FTP (and, when configured, the metrics endpoint).",
        discussion: "Without --config, ./conf/ferry.toml is used if it exists; otherwise the quick start runs.")

    @Option(name: .long, help: "Path of the TOML configuration.")
    var config: String?

    static let defaultConfigPath = "conf/ferry.toml"

    func run() throws {
        var settings: FerryConfig
        var banner: String?
        if let path = config ?? (FileManager.default.fileExists(atPath: Self.defaultConfigPath) ? Self.defaultConfigPath : nil) {
            do {
                settings = try ConfigLoader().load(path: path)
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
        } else {
            let password = QuickStart.randomPassword()
            var tls: FerryConfig.TLS?
            do {
                tls = try QuickStart.ensureCertificate()
            } catch {
                printError("warning: no FTPS in the quick start: \(error)")
            }
            var hostKeys: [String] = []
            do {
                hostKeys = try QuickStart.ensureHostKeys()
            } catch {
                printError("warning: no SFTP in the quick start: \(error)")
            }
            settings = QuickStart.configuration(password: password, tls: tls, hostKeys: hostKeys)
            banner = QuickStart.banner(password: password, sftp: !hostKeys.isEmpty)
        }
        let level = settings.log.level
        let format = settings.log.format
        LoggingSystem.bootstrap { label in LogLineHandler(label: label, level: level, format: format) }
        let logger = Logger(label: "ferry")
        for warning in settings.warnings { logger.warning("\(warning)") }

        let server: Server
        do {
            server = try Server(config: settings, logger: logger)
            try server.start()
        } catch {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(1)
        }
        logger.info("ferry \(Ferry.version) started")
        if let banner { FileHandle.standardOutput.write(Data(banner.utf8)) }
        waitForTermination(server, grace: settings.limits.shutdownGrace, logger: logger)
    }

    /// Blocks until SIGTERM or SIGINT, then drains (`Server.drain`): the first signal gives running
    /// transfers `[limits] shutdown_grace`, a second one ends the grace period at once. Exits 0 when
    /// nothing is left open.
    private func waitForTermination(_ server: Server, grace: TimeInterval, logger: Logger) -> Never {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "signals")
        let finished = DispatchSemaphore(value: 0)
        let signalsSeen = Locked(0)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let count = signalsSeen.withLock { seen in
                    seen += 1
                    return seen
                }
                if count == 1 {
                    logger.info("stopping: draining", metadata: ["signal": "\(number)", "grace_seconds": "\(grace)"])
                    let drain = Thread {
                        server.drain(grace: grace)
                        finished.signal()
                    }
                    drain.name = "drain"
                    drain.start()
                } else {
                    logger.warning("stopping now: second signal", metadata: ["signal": "\(number)"])
                    server.stopNow()
                }
            }
            source.resume()
            sources.append(source)
        }
        finished.wait()
        withExtendedLifetime(sources) {}
        logger.info("stopped")
        Foundation.exit(0)
    }
}
