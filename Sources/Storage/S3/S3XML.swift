import Foundation
import Timestamps
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The S3 response documents Ferry reads.
enum S3XML {
    struct ErrorDocument: Equatable {
        var code: String
        var message: String
    }

    /// `<Error><Code>…</Code><Message>…</Message></Error>`, also found inside 200 responses of
    /// CopyObject and CompleteMultipartUpload.
    static func error(_ bytes: [UInt8]) -> ErrorDocument? {
        guard let root = S3XMLElement.parse(bytes), root.name == "Error" else { return nil }
        return ErrorDocument(code: root.value("Code") ?? "", message: root.value("Message") ?? "")
    }

    struct ListResult {
        var objects: [(key: String, size: UInt64, modified: Date, etag: String?)]
        var commonPrefixes: [String]
        var nextToken: String?
    }

    /// ListObjectsV2 (`ListBucketResult`).
    static func listResult(_ bytes: [UInt8]) -> ListResult? {
        guard let root = S3XMLElement.parse(bytes), root.name == "ListBucketResult" else { return nil }
        var objects: [(key: String, size: UInt64, modified: Date, etag: String?)] = []
        for entry in root.all("Contents") {
            guard let key = entry.value("Key") else { continue }
            objects.append((key, UInt64(entry.value("Size") ?? "0") ?? 0,
                            entry.value("LastModified").flatMap(UTCTime.parseISO8601) ?? Date(timeIntervalSince1970: 0), entry.value("ETag")))
        }
        let prefixes = root.all("CommonPrefixes").compactMap { $0.value("Prefix") }
        let truncated = root.value("IsTruncated") == "true"
        return ListResult(objects: objects, commonPrefixes: prefixes,
                          nextToken: truncated ? root.value("NextContinuationToken") : nil)
    }

    /// CreateMultipartUpload (`InitiateMultipartUploadResult`).
    static func uploadID(_ bytes: [UInt8]) -> String? {
        guard let root = S3XMLElement.parse(bytes), root.name == "InitiateMultipartUploadResult" else { return nil }
        return root.value("UploadId")
    }

    /// The ETag of `CopyObjectResult`, `CopyPartResult` or `CompleteMultipartUploadResult`.
    static func etag(_ bytes: [UInt8]) -> String? {
        guard let root = S3XMLElement.parse(bytes), root.name != "Error" else { return nil }
        return root.value("ETag")
    }

    /// Keys DeleteObjects could not delete (`DeleteResult/Error`).
    static func deleteErrors(_ bytes: [UInt8]) -> [(key: String, code: String)]? {
        guard let root = S3XMLElement.parse(bytes), root.name == "DeleteResult" else { return nil }
        return root.all("Error").map { ($0.value("Key") ?? "", $0.value("Code") ?? "") }
    }

    /// One page of ListMultipartUploads: the pending uploads, and where the next page starts.
    struct PendingUploadPage {
        var uploads: [(key: String, uploadID: String, initiated: Date?)]
        /// `key-marker` and `upload-id-marker` of the next page; nil on the last page.
        var next: (keyMarker: String, uploadIDMarker: String)?
    }

    /// ListMultipartUploads (`ListMultipartUploadsResult`).
    static func pendingUploads(_ bytes: [UInt8]) -> PendingUploadPage? {
        guard let root = S3XMLElement.parse(bytes), root.name == "ListMultipartUploadsResult" else { return nil }
        let uploads = root.all("Upload").map { upload in
            (key: upload.value("Key") ?? "", uploadID: upload.value("UploadId") ?? "",
             initiated: upload.value("Initiated").flatMap(UTCTime.parseISO8601))
        }
        var next: (String, String)?
        if root.value("IsTruncated") == "true", let keyMarker = root.value("NextKeyMarker") {
            next = (keyMarker, root.value("NextUploadIdMarker") ?? "")
        }
        return PendingUploadPage(uploads: uploads, next: next)
    }

    /// One page of ListParts (`ListPartsResult`): each part's last modification, and the part
    /// number marker of the next page (nil on the last page).
    static func partsPage(_ bytes: [UInt8]) -> (modified: [Date], nextMarker: String?)? {
        guard let root = S3XMLElement.parse(bytes), root.name == "ListPartsResult" else { return nil }
        let modified = root.all("Part").compactMap { $0.value("LastModified").flatMap(UTCTime.parseISO8601) }
        let next = root.value("IsTruncated") == "true" ? root.value("NextPartNumberMarker") : nil
        return (modified, next)
    }

    /// XML text for a key or ETag. Scalar by scalar, not by Character: `&` followed by a combining
    /// mark is one Character that is not "&", and would have been written unescaped.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func completeMultipart(_ parts: [(number: Int, etag: String)]) -> String {
        "<CompleteMultipartUpload>" + parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(escape($0.etag))</ETag></Part>" }.joined()
            + "</CompleteMultipartUpload>"
    }

    static func deleteObjects(_ keys: [String]) -> String {
        "<Delete><Quiet>true</Quiet>" + keys.map { "<Object><Key>\(escape($0))</Key></Object>" }.joined() + "</Delete>"
    }
}
