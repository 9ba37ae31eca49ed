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

    @Option(name: .long, help: "Write the process id here (for `ferry reload --pid-file`); removed at exit.")
    var pidFile: String?

    static let defaultConfigPath = "conf/ferry.toml"

    func run() throws {
        var settings: FerryConfig
        var banner: String?
        let configPath = config ?? (FileManager.default.fileExists(atPath: Self.defaultConfigPath) ? Self.defaultConfigPath : nil)
        if let path = configPath {
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
        LogLineHandler.setProcessLevel(level)
        LoggingSystem.bootstrap { label in LogLineHandler(label: label, format: format) }
        let logger = Logger(label: "ferry")
        for warning in settings.warnings { logger.warning("\(warning)") }

        // A SIGHUP before the reload handler exists must not end the process (its default action).
        signal(SIGHUP, SIG_IGN)
        let server: Server
        do {
            server = try Server(config: settings, logger: logger)
            try server.start()
        } catch {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(1)
        }
        let notifier = SystemdNotifier()
        // Handlers first: from the pid file and READY on, a reload or a stop can come at any moment.
        let signals = handleSignals(server, configPath: configPath, notifier: notifier, logger: logger)
        // A stop may already have begun (a signal right after the handlers): then no pid file,
        // reaper or READY after STOPPING.
        if let pidFile, !server.isDraining {
            do {
                try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
            } catch {
                logger.critical("cannot write the pid file \(pidFile): \(error)")
                throw ExitCode(1)
            }
        }
        logger.info("ferry \(Ferry.version) started")
        if let banner { FileHandle.standardOutput.write(Data(banner.utf8)) }
        if !server.isDraining {
            AbandonedUploadReaper(snapshot: { let runtime = server.currentRuntime; return (runtime.config, runtime.storages) },
                                  logger: logger).start()
            notifier.ready(status: "serving")
        }
        signals.stopped.wait()
        withExtendedLifetime(signals.sources) {}
        if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) }
        logger.info("stopped")
        Foundation.exit(0)
    }

    /// Installs the signal handlers; `stopped` is signalled when a drain has finished.
    /// - SIGHUP reloads the configuration (`Server.reload`), telling systemd RELOADING then READY;
    /// - SIGTERM or SIGINT drains (`Server.drain`): the first gives running transfers
    ///   `[limits] shutdown_grace`, a second one ends the grace period at once.
    private func handleSignals(_ server: Server, configPath: String?, notifier: SystemdNotifier,
                               logger: Logger) -> (sources: [DispatchSourceSignal], stopped: DispatchSemaphore) {
        for number in [SIGTERM, SIGINT, SIGHUP] { signal(number, SIG_IGN) }
        let queue = DispatchQueue(label: "signals")
        let finished = DispatchSemaphore(value: 0)
        let stopSignals = Locked(0)
        var sources: [DispatchSourceSignal] = []
        let reload = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        reload.setEventHandler {
            guard let configPath else {
                logger.warning("SIGHUP ignored: the quick start has no configuration file to reload")
                return
            }
            guard !server.isDraining else {
                logger.warning("SIGHUP ignored: the server is stopping")
                return
            }
            notifier.reloading()
            let result = server.reload(from: configPath)
            notifier.ready(status: result == .ok ? "serving (configuration reloaded)" : "serving (last reload failed: see the log)")
        }
        reload.resume()
        sources.append(reload)
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let count = stopSignals.withLock { seen in
                    seen += 1
                    return seen
                }
                if count == 1 {
                    let grace = server.config.limits.shutdownGrace
                    logger.info("stopping: draining", metadata: ["signal": "\(number)", "grace_seconds": "\(grace)"])
                    notifier.stopping(status: "draining")
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
        return (sources, finished)
    }
}
