import ArgumentParser
import Foundation
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
    static let subcommands: [ParsableCommand.Type] = [Serve.self, CheckConfig.self, Reload.self, HashPassword.self, ImportCosConfig.self, Version.self, Fuzz.self]
    #else
    static let subcommands: [ParsableCommand.Type] = [Serve.self, CheckConfig.self, Reload.self, HashPassword.self, ImportCosConfig.self, Version.self]
    #endif
}

/// Prints to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
