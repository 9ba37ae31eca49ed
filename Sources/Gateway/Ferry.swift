import ArgumentParser
import TOMLKit
@main struct Ferry: ParsableCommand {
    func run() throws { print("ferry") }
}
