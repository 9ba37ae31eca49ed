import Foundation
@testable import Gateway
import Protocols
import Testing

/// Replays the fuzz targets' seed corpus (`Fuzz/corpus/<target>/`) and every input that once made a
/// target crash (`Fuzz/regressions/<target>/`) through the same entry points `make fuzz` runs: a
/// regression in a parser shows up here, in `make test`, without the fuzzer.
@Suite struct FuzzCorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: String) -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target)
        return ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .filter { !$0.lastPathComponent.hasPrefix(".") }
    }

    @Test(arguments: FuzzTargets.all.map(\.name))
    func everySeedAndRegressionRuns(target: String) throws {
        let run = try #require(FuzzTargets.named(target))
        let seeds = Self.inputs("corpus", target)
        #expect(!seeds.isEmpty, "no seed corpus for \(target)")
        for file in seeds + Self.inputs("regressions", target) {
            run(Array(try Data(contentsOf: file)))
        }
    }

    /// A target that returns early reaches nothing: every SFTP seed must get requests decoded.
    @Test func everySFTPSeedReachesTheDecoder() throws {
        for file in Self.inputs("corpus", "sftp") {
            let decoded = Protocols.ProtocolFuzzTargets.sftp(Array(try Data(contentsOf: file)))
            #expect(decoded > 0, "\(file.lastPathComponent): no request decoded")
        }
    }
}
