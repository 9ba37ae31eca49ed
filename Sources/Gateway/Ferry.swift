import ArgumentParser
import Auth
import Dispatch
import Foundation
import Logging
import Protocols

/// Ferry's command line (design.md §4).
@main
struct Ferry: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "FTP, FTPS and SFTP gateway to object storage.",
        version: "ferry \(version)",
        subcommands: subcommands
    )

    /// Process start: the C libraries and malloc are set up here, before any thread exists (each
    /// command may start threads), then the command line runs.
    static func main() {
        MemoryTuning.apply()
        do {
            try CLibraries.initialize()
        } catch {
            printError("ferry: \(error)")
            Foundation.exit(1)
        }
        main(nil)
    }

    #if FERRY_FUZZ
    static let subcommands: [ParsableCommand.Type] = [Serve.self, CheckConfig.self, HashPassword.self, Version.self, Fuzz.self]
    #else
    static let subcommands: [ParsableCommand.Type] = [Serve.self, CheckConfig.self, HashPassword.self, Version.self]
    #endif
}

/// Prints to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

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
        LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label, level: level) }
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
        waitForTermination(server, logger: logger)
    }

    /// Blocks until SIGTERM or SIGINT, then stops accepting and lets transfers finish (up to 30 s).
    private func waitForTermination(_ server: Server, logger: Logger) -> Never {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "signals")
        let finished = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                logger.info("signal \(number): stopping (grace period 30 s)")
                server.stop(grace: 30)
                finished.signal()
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

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration and print the effective settings (secrets masked).")

    @Option(name: .long, help: "Path of the TOML configuration.")
    var config: String

    func run() throws {
        do {
            let settings = try ConfigLoader().load(path: config)
            print(ConfigPrinter.render(settings), terminator: "")
            for warning in settings.warnings { printError("warning: \(warning)") }
            printError("configuration OK: \(config)")
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}

struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Read a password on standard input and print a yescrypt hash for password_hash.")

    func run() throws {
        guard var password = readLine(strippingNewline: true) else {
            printError("no password on standard input")
            throw ExitCode(1)
        }
        if password.hasSuffix("\r") { password.removeLast() }
        guard !password.isEmpty else {
            printError("the password is empty")
            throw ExitCode(1)
        }
        guard let hash = PasswordHash.make(password) else {
            printError("crypt(3) could not hash the password")
            throw ExitCode(1)
        }
        print(hash)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("ferry \(Ferry.version)")
    }
}
