import Timestamps
import PathRules
/// Entry points for the fuzzer (`make fuzz`) and the corpus replay in the unit tests: S3's XML
/// answers (ListObjectsV2, errors, multipart, DeleteObjects), its dates, and key splitting.
public enum StorageFuzzTargets {
    /// The first byte chooses the reader (one XML parse per execution: Foundation's parser costs
    /// most of the time, and libFuzzer learns each reader's coverage from the selector); the rest is
    /// the answer's body.
    public static func s3XML(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let body = Array(data.dropFirst())
        let text = String(decoding: body, as: UTF8.self)
        switch selector % 9 {
        case 0: _ = S3XML.error(body)
        case 1: _ = S3XML.listResult(body)
        case 2: _ = S3XML.uploadID(body)
        case 3: _ = S3XML.etag(body)
        case 4: _ = S3XML.deleteErrors(body)
        case 5: _ = S3XML.pendingUploads(body)
        case 8: _ = S3XML.partsPage(body)
        case 6:
            _ = UTCTime.parseISO8601(text)
            _ = UTCTime.parseHTTPDate(text)
        case 7: _ = try? KeyBytes.plainComponents(ofKey: text)
        default: break
        }
    }
}
