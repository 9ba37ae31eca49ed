#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation

/// `ferry reload`: asks a running `ferry serve` to reload its configuration (sends SIGHUP to the
/// process named by its pid file). With `--config` the file is checked first, as `check-config`
/// does, so that a mistake is shown here and the running server is not even asked.
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload the configuration of a running ferry serve (SIGHUP to the process in --pid-file).",
        discussion: "The server validates the file again before applying it; with errors nothing changes and they are logged.")

    @Option(name: .long, help: "The pid file written by `ferry serve --pid-file`.")
    var pidFile: String

    @Option(name: .long, help: "Check this configuration first and do not signal the server when it has errors.")
    var config: String?

    func run() throws {
        if let config {
            do {
                let settings = try ConfigLoader().load(path: config)
                for warning in settings.warnings { printError("warning: \(warning)") }
            } catch {
                printError(error.description)
                printError("not reloading: the configuration has errors")
                throw ExitCode(1)
            }
        }
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else {
            printError("cannot read a process id from \(pidFile)")
            throw ExitCode(1)
        }
        guard kill(pid, SIGHUP) == 0 else {
            printError("cannot signal process \(pid): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        printError("reload requested from process \(pid); its log says whether it applied")
    }
}
