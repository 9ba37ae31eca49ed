import Foundation
import Timestamps
import Digests

/// AWS Signature Version 4 for S3, computed in Swift (libcurl 7.88's CURLOPT_AWS_SIGV4 has bugs real
/// S3 rejects; design.md §3). Reference: "Authenticating Requests (AWS Signature Version 4)",
/// S3 API guide; the unit tests reproduce AWS's published examples.
struct S3Signer: Sendable {
    let accessKey: String
    let secretKey: String
    let sessionToken: String?
    let region: String
    let service = "s3"

    /// S3's URI encoding: every byte except A-Z a-z 0-9 - _ . ~ is %XX (upper case); `/` is kept in
    /// paths and encoded in query values.
    static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    /// The canonical query string: parameters sorted by encoded name, then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        var encoded: [(name: String, value: String)] = query.map { pair in
            (uriEncode(pair.0, keepSlash: false), uriEncode(pair.1, keepSlash: false))
        }
        encoded.sort { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return encoded.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// SigV4's Trimall: no spaces around a header value, and each run of spaces inside it one space
    /// (a Content-Type or Content-Disposition re-sent from a HEAD may hold a double space).
    static func trimAll(_ value: String) -> String {
        var out: [UInt8] = []
        for byte in value.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                if let last = out.last, last != UInt8(ascii: " ") { out.append(UInt8(ascii: " ")) }
            } else {
                out.append(byte)
            }
        }
        if out.last == UInt8(ascii: " ") { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }

    /// Signs a request. `headers` must include `host`; `x-amz-date`, `x-amz-content-sha256` and the
    /// session token are added here. Returns every header to send, Authorization included.
    func sign(method: String, encodedPath: String, query: [(String, String)], headers: [(String, String)],
              payloadHash: String, date: Date) throws(StorageError) -> [(String, String)] {
        let amzDate = UTCTime(date).signatureTimestamp
        let day = String(amzDate.prefix(8))
        var all = headers.map { ($0.0.lowercased(), Self.trimAll($0.1)) }
        all.append(("x-amz-date", amzDate))
        all.append(("x-amz-content-sha256", payloadHash))
        if let sessionToken { all.append(("x-amz-security-token", sessionToken)) }
        all.sort { $0.0 < $1.0 }
        let canonicalHeaders = all.map { "\($0.0):\($0.1)\n" }.joined()
        let signedHeaders = all.map(\.0).joined(separator: ";")
        let canonicalRequest = [method, encodedPath, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signature = try digesting { () throws(DigestError) -> String in
            let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Digest.hex(try Digest.sha256(canonicalRequest)))"
            var key = try Digest.hmacSHA256(key: Array("AWS4\(secretKey)".utf8), day)
            key = try Digest.hmacSHA256(key: key, region)
            key = try Digest.hmacSHA256(key: key, service)
            key = try Digest.hmacSHA256(key: key, "aws4_request")
            return Digest.hex(try Digest.hmacSHA256(key: key, stringToSign))
        }
        all.append(("authorization", "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)"))
        return all
    }
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
