#if FERRY_FUZZ
import ArgumentParser
internal import CProcessShims
import Foundation

/// `ferry fuzz TARGET [libFuzzer options] [corpus directories]`: only in builds made by `make fuzz`
/// (compiled with -D FERRY_FUZZ, coverage instrumentation and libFuzzer's driver linked in).
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one fuzz target under libFuzzer (fuzz builds only).")

    @Argument(help: "The target: \(FuzzTargets.all.map(\.name).joined(separator: ", ")).")
    var target: String

    @Argument(parsing: .captureForPassthrough, help: "libFuzzer's options and corpus directories.")
    var libFuzzerArguments: [String] = []

    /// The target libFuzzer's C callback calls (set once, before the driver starts).
    nonisolated(unsafe) static var selected: (([UInt8]) -> Void)?

    func run() throws {
        guard let run = FuzzTargets.named(target) else {
            printError("unknown fuzz target \(target)")
            throw ExitCode(2)
        }
        Fuzz.selected = run
        var arguments = ["ferry-fuzz-\(target)"] + libFuzzerArguments
        var argc = Int32(arguments.count)
        var cStrings = arguments.map { strdup($0) } + [nil]
        let status = cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var argv = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv, fuzzCallback)
        }
        arguments.removeAll()
        throw ExitCode(status)
    }
}

/// libFuzzer's callback: a plain C function (design.md §2), no captures.
private func fuzzCallback(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    Fuzz.selected?(bytes)
    return 0
}
#endif
