import Foundation
import Timestamps
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: enough DOM for S3's small response documents, built with Foundation's
/// XMLParser (never by string scanning).
final class XMLElement {
    let name: String
    var text = ""
    var children: [XMLElement] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }
    func all(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }
    func value(_ name: String) -> String? { child(name)?.text }

    /// Parses a document; nil if it is not well-formed XML. What S3 never sends is refused before
    /// Foundation's XMLParser sees it, because the parser crashes on some of it (found by the s3-xml
    /// fuzz target): bytes that are not UTF-8 (a trap on the element name), NUL, processing
    /// instructions (a NULL dereference on one without data), and document types (entities are
    /// an amplification risk). A leading XML declaration is dropped here.
    static func parse(_ bytes: [UInt8]) -> XMLElement? {
        guard let body = acceptableBody(bytes) else { return nil }
        let builder = Builder()
        let parser = XMLParser(data: Data(body))
        parser.delegate = builder
        parser.shouldProcessNamespaces = true  // element names without the S3 namespace prefix
        guard parser.parse() else { return nil }
        return builder.root
    }

    private static func acceptableBody(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard !bytes.contains(0), String(validating: bytes, as: UTF8.self) != nil else { return nil }
        var body = bytes[...].drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D })
        if body.starts(with: "<?xml ".utf8) {
            guard let end = body.firstRange(of: "?>".utf8) else { return nil }
            body = body[end.upperBound...]
        }
        if body.firstRange(of: "<?".utf8) != nil || body.firstRange(of: "<!DOCTYPE".utf8) != nil
            || body.firstRange(of: "<!ENTITY".utf8) != nil {
            return nil
        }
        return body
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLElement?
        var stack: [XMLElement] = []

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            let element = XMLElement(name: elementName)
            stack.last?.children.append(element)
            if root == nil { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}

/// The S3 response documents Ferry reads.
enum S3XML {
    struct ErrorDocument: Equatable {
        var code: String
        var message: String
    }

    /// `<Error><Code>…</Code><Message>…</Message></Error>`, also found inside 200 responses of
    /// CopyObject and CompleteMultipartUpload.
    static func error(_ bytes: [UInt8]) -> ErrorDocument? {
        guard let root = XMLElement.parse(bytes), root.name == "Error" else { return nil }
        return ErrorDocument(code: root.value("Code") ?? "", message: root.value("Message") ?? "")
    }

    struct ListResult {
        var objects: [(key: String, size: UInt64, modified: Date, etag: String?)]
        var commonPrefixes: [String]
        var nextToken: String?
    }

    /// ListObjectsV2 (`ListBucketResult`).
    static func listResult(_ bytes: [UInt8]) -> ListResult? {
        guard let root = XMLElement.parse(bytes), root.name == "ListBucketResult" else { return nil }
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
        guard let root = XMLElement.parse(bytes), root.name == "InitiateMultipartUploadResult" else { return nil }
        return root.value("UploadId")
    }

    /// The ETag of `CopyObjectResult`, `CopyPartResult` or `CompleteMultipartUploadResult`.
    static func etag(_ bytes: [UInt8]) -> String? {
        guard let root = XMLElement.parse(bytes), root.name != "Error" else { return nil }
        return root.value("ETag")
    }

    /// Keys DeleteObjects could not delete (`DeleteResult/Error`).
    static func deleteErrors(_ bytes: [UInt8]) -> [(key: String, code: String)]? {
        guard let root = XMLElement.parse(bytes), root.name == "DeleteResult" else { return nil }
        return root.all("Error").map { ($0.value("Key") ?? "", $0.value("Code") ?? "") }
    }

    /// ListMultipartUploads: the pending uploads' keys and IDs.
    static func pendingUploads(_ bytes: [UInt8]) -> [(key: String, uploadID: String)]? {
        guard let root = XMLElement.parse(bytes), root.name == "ListMultipartUploadsResult" else { return nil }
        return root.all("Upload").map { ($0.value("Key") ?? "", $0.value("UploadId") ?? "") }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
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
