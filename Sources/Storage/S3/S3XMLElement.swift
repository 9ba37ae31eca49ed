import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: enough DOM for S3's small response documents, built with Foundation's
/// XMLParser (never by string scanning).
final class S3XMLElement {
    let name: String
    var text = ""
    var children: [S3XMLElement] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    func all(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    func value(_ name: String) -> String? { child(name)?.text }

    /// Parses a document; nil if it is not well-formed XML. What S3 never sends is refused before
    /// Foundation's XMLParser sees it, because the parser crashes on some of it (found by the s3-xml
    /// fuzz target): bytes that are not UTF-8 (a trap on the element name), NUL, processing
    /// instructions (a NULL dereference on one without data), and document types (entities are
    /// an amplification risk). A leading XML declaration is dropped here.
    static func parse(_ bytes: [UInt8]) -> S3XMLElement? {
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
        var root: S3XMLElement?
        var stack: [S3XMLElement] = []

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            let element = S3XMLElement(name: elementName)
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
