/// Entry points for the fuzzer (`make fuzz`) and the corpus replay in the unit tests: S3's XML
/// answers (ListObjectsV2, errors, multipart, DeleteObjects), its dates, and key splitting.
public enum StorageFuzzTargets {
    public static func s3XML(_ data: [UInt8]) {
        _ = S3XML.error(data)
        _ = S3XML.listResult(data)
        _ = S3XML.uploadID(data)
        _ = S3XML.etag(data)
        _ = S3XML.deleteErrors(data)
        _ = S3XML.pendingUploads(data)
        let text = String(decoding: data, as: UTF8.self)
        _ = S3XML.isoDate(text)
        _ = S3XML.httpDate(text)
        _ = try? KeyBytes.plainComponents(ofKey: text)
    }
}
