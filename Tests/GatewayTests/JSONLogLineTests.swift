import Foundation
@testable import Gateway
import Logging
import Testing

/// `[log] format = "json"`: the line is valid JSON, counts are numbers only where they are numbers,
/// reserved names are not overwritten, and text that needs escaping survives a round trip.
@Suite struct JSONLogLineTests {
    static func object(_ line: String) throws -> [String: Any] {
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func linesAreJSONWithTypedFields() throws {
        let fields: Logger.Metadata = [
            "bytes": "1234", "seconds": "0.250", "user": "alice", "path": "/a \"q\"\n\u{1}\\b/é.txt",
            "message": "sneaky", "id": "not-a-number", "attempt": "007", "list": ["a", "b"],
        ]
        let line = JSONLogLine.line(time: Date(timeIntervalSince1970: 1_793_610_307.25), level: .info, label: "ferry",
                                       message: "transfer complete", fields: fields)
        let object = try Self.object(line)
        #expect(object["time"] as? String == "2026-11-02T09:05:07.250Z")
        #expect(object["level"] as? String == "info" && object["logger"] as? String == "ferry")
        #expect(object["message"] as? String == "transfer complete")
        #expect(object["field_message"] as? String == "sneaky")  // a field never replaces the message
        #expect(object["bytes"] as? Int == 1234 && object["seconds"] as? Double == 0.25)
        #expect(object["id"] as? String == "not-a-number" && object["attempt"] as? String == "007")
        #expect(object["path"] as? String == "/a \"q\"\n\u{1}\\b/é.txt")
        #expect(object["list"] as? [String] == ["a", "b"])
    }

    @Test func numbersAreRecognisedStrictly() {
        for text in ["0", "12", "-3", "1.5", "0.250"] { #expect(JSONLogLine.isJSONNumber(text), "\(text)") }
        for text in ["", "-", "1.", ".5", "01", "1e5", "0x10", "12a", "١٢"] { #expect(!JSONLogLine.isJSONNumber(text), "\(text)") }
    }

    @Test func theFormatIsASetting() throws {
        let base = ConfigLoaderTests.base + ConfigLoaderTests.user()
        #expect(try ConfigLoaderTests.load(base + "\n[log]\nformat = \"json\"\n").log.format == .json)
        #expect(try ConfigLoaderTests.load(base).log.format == .text)
        #expect(ConfigLoaderTests.issues(base + "\n[log]\nformat = \"xml\"\n").first?.contains("log.format: expected one of text | json") == true)
    }
}
