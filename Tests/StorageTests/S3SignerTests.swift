import Foundation
@testable import Storage
import Testing
import Digests

/// AWS's published SigV4 examples for S3 ("Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk"): what the test S3 server cannot check for us.
@Suite struct S3SignerTests {
    static let signer = S3Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 sessionToken: nil, region: "us-east-1")
    static let date = Date(timeIntervalSince1970: 1_369_353_600)  // 20130524T000000Z
    static let host = ("host", "examplebucket.s3.amazonaws.com")

    static func authorization(_ headers: [(String, String)]) -> String {
        headers.first { $0.0 == "authorization" }!.1
    }

    @Test func getObjectWithRange() throws {
        let headers = try Self.signer.sign(method: "GET", encodedPath: "/test.txt", query: [],
                                       headers: [Self.host, ("range", "bytes=0-9")], payloadHash: Digest.emptySHA256, date: Self.date)
        #expect(Self.authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObject() throws {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = Digest.hex(try Digest.sha256(body))
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let headers = try Self.signer.sign(method: "PUT", encodedPath: "/" + S3Signer.uriEncode("test$file.text", keepSlash: true), query: [],
                                       headers: [Self.host, ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                                                 ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                                       payloadHash: hash, date: Self.date)
        #expect(Self.authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycle() throws {
        let headers = try Self.signer.sign(method: "GET", encodedPath: "/", query: [("lifecycle", "")],
                                       headers: [Self.host], payloadHash: Digest.emptySHA256, date: Self.date)
        #expect(Self.authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjects() throws {
        let headers = try Self.signer.sign(method: "GET", encodedPath: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                       headers: [Self.host], payloadHash: Digest.emptySHA256, date: Self.date)
        #expect(Self.authorization(headers) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func uriEncoding() throws {
        #expect(S3Signer.uriEncode("a b+c%d~e/f", keepSlash: true) == "a%20b%2Bc%25d~e/f")
        #expect(S3Signer.uriEncode("a/b", keepSlash: false) == "a%2Fb")
        #expect(S3Signer.uriEncode("été", keepSlash: true) == "%C3%A9t%C3%A9")
        #expect(S3Signer.canonicalQuery([("prefix", "a b"), ("delimiter", "/"), ("list-type", "2")]) == "delimiter=%2F&list-type=2&prefix=a%20b")
    }

    @Test func sessionTokenIsSigned() throws {
        let signer = S3Signer(accessKey: "AK", secretKey: "SK", sessionToken: "TOKEN", region: "eu-west-1")
        let headers = try signer.sign(method: "GET", encodedPath: "/", query: [], headers: [("host", "h")],
                                  payloadHash: Digest.emptySHA256, date: Self.date)
        #expect(headers.contains { $0 == ("x-amz-security-token", "TOKEN") })
        #expect(Self.authorization(headers).contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
    }
}

/// The one server-side copy loop's part ranges: contiguous, complete, within the maximum, and
/// never more than one byte apart (so none falls under S3's 5 MiB minimum before the last).
@Suite struct CopyRangeTests {
    static let cases: [(length: UInt64, maxPartSize: UInt64)] = [
        (91, 10), (20 << 20, 8 << 20), ((5 << 30) + 1, 1 << 30), (1, 1 << 30), (1 << 30, 1 << 30),
    ]

    @Test func rangesAreEqualAndComplete() {
        for (length, maxPartSize) in Self.cases { check(length: length, maxPartSize: maxPartSize) }
    }

    func check(length: UInt64, maxPartSize: UInt64) {
        let ranges = S3Client.copyRanges(length: length, maxPartSize: maxPartSize)
        #expect(ranges.count == Int((length + maxPartSize - 1) / maxPartSize))
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == length - 1)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(b.lowerBound == a.upperBound + 1) }
        let sizes = ranges.map { $0.upperBound - $0.lowerBound + 1 }
        #expect(sizes.allSatisfy { $0 <= maxPartSize })
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
    }

    @Test func nothingToCopy() {
        #expect(S3Client.copyRanges(length: 0, maxPartSize: 1 << 30).isEmpty)
    }

    /// SigV4 Trimall (AWS's canonical request rules): spaces around a value go, runs inside become one.
    @Test func headerValuesAreTrimmedAsSigV4Says() {
        #expect(S3Signer.trimAll("  attachment;  filename=\"a  b.html\"\t ") == "attachment; filename=\"a b.html\"")
        #expect(S3Signer.trimAll("text/html") == "text/html")
        #expect(S3Signer.trimAll("   ") == "")
    }
}
