import Digests
import Foundation
@testable import Storage
import Testing

/// The digests Ferry stores in user metadata, under rclone's MD5 name: written and read back, and
/// malformed values ignored (the checksum is then computed by reading).
@Suite struct StoredMetadataTests {
    @Test func roundTripAndMalformedValues() {
        let md5 = Array(0..<16).map { UInt8($0) }, sha256 = Array(0..<32).map { UInt8(255 - $0) }
        let stored = StoredMetadata.checksums(md5: md5, sha256: sha256)
        #expect(stored["md5chksum"] == Data(md5).base64EncodedString())
        #expect(StoredMetadata.digest(.md5, in: stored) == md5 && StoredMetadata.digest(.sha256, in: stored) == sha256)
        #expect(StoredMetadata.digest(.sha1, in: stored) == nil && StoredMetadata.digest(.crc32, in: stored) == nil)
        #expect(StoredMetadata.digest(.md5, in: ["md5chksum": "not base64!"]) == nil)
        #expect(StoredMetadata.digest(.md5, in: ["md5chksum": Data([1, 2, 3]).base64EncodedString()]) == nil)
        #expect(StoredMetadata.digest(.sha256, in: ["sha256": String(repeating: "z", count: 64)]) == nil)
        #expect(StoredMetadata.digest(.sha256, in: ["sha256": "abcd"]) == nil)
        let headers = StoredMetadata.headers(stored)
        #expect(headers.map(\.0) == ["x-amz-meta-md5chksum", "x-amz-meta-sha256"])
        let response = Dictionary(uniqueKeysWithValues: headers + [("content-length", "3"), ("etag", "\"x\"")])
        #expect(StoredMetadata.userMetadata(response) == stored)
        #expect(StoredMetadata.bytes(hex: "0aFf") == [0x0A, 0xFF] && StoredMetadata.bytes(hex: "abc") == nil)
    }

    @Test func etagIsTheMD5OnlyForPlainSinglePartObjects() {
        let md5 = "\"d41d8cd98f00b204e9800998ecf8427e\""
        let bytes: [UInt8] = [0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e]
        #expect(S3Driver.contentMD5(fromETagIn: ["etag": md5]) == bytes)
        #expect(S3Driver.contentMD5(fromETagIn: ["etag": md5, "x-amz-server-side-encryption": "AES256"]) == bytes)
        #expect(S3Driver.contentMD5(fromETagIn: ["etag": md5, "x-amz-server-side-encryption": "aws:kms"]) == nil)
        #expect(S3Driver.contentMD5(fromETagIn: ["etag": md5, "x-amz-server-side-encryption-customer-algorithm": "AES256"]) == nil)
        #expect(S3Driver.contentMD5(fromETagIn: ["etag": "\"d41d8cd98f00b204e9800998ecf8427e-2\""]) == nil)
        #expect(S3Driver.contentMD5(fromETagIn: ["etag": "\"zz1d8cd98f00b204e9800998ecf8427e\""]) == nil)
        #expect(S3Driver.contentMD5(fromETagIn: [:]) == nil)
    }

    @Test func modificationTimesInRclonesForm() {
        #expect(StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: 1_354_040_105.5)) == "1354040105.5")
        #expect(StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: 1_700_000_000)) == "1700000000")
        #expect(StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: 1_354_040_105.000_25)) == "1354040105.00025")
        let parse = { (text: String) in StoredMetadata.modificationTime(in: ["mtime": text])?.timeIntervalSince1970 }
        #expect(parse("1354040105.123456789") == 1_354_040_105.123456789)
        #expect(parse("1354040105") == 1_354_040_105)
        #expect(parse("1354040105.1234567891234") == 1_354_040_105.123456789)  // cut to 9 digits, as rclone reads it
        for bad in ["", ".5", "1354040105.", "-5", "1e9", "13540 40105", "12345678901234", "0x10"] {
            #expect(parse(bad) == nil, "\(bad.debugDescription) was accepted")
        }
        #expect(StoredMetadata.modificationTime(in: [:]) == nil)
        // Out of range: clamped, never a trap (protocols refuse such times before they get here).
        #expect(StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: 1e15)) == "253402300799")
        #expect(StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: -0.5)) == "0")
        #expect(StoredMetadata.modificationTimeValue(Date(timeIntervalSince1970: 0.9999999)) == "1")
    }
}
