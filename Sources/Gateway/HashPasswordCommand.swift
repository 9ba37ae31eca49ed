import ArgumentParser
import Auth
import Foundation

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
