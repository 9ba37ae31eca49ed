import ArgumentParser
import Foundation

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
