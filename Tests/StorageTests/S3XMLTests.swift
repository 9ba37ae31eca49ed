import Foundation
@testable import Storage
import Timestamps
import Testing

/// Recorded S3 response documents (shapes from the S3 API reference), parsed with XMLParser.
@Suite struct S3XMLTests {
    @Test func listObjectsV2() throws {
        let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>bucket</Name><Prefix>photos/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter>
          <IsTruncated>true</IsTruncated>
          <Contents><Key>photos/été &amp; plage.jpg</Key><LastModified>2026-11-22T10:20:30.000Z</LastModified>
            <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag><Size>142863</Size><StorageClass>STANDARD</StorageClass></Contents>
          <Contents><Key>photos/a+b%20c~d</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>"x"</ETag><Size>0</Size></Contents>
          <CommonPrefixes><Prefix>photos/2026/</Prefix></CommonPrefixes>
          <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
        </ListBucketResult>
        """
        let result = try #require(S3XML.listResult(Array(xml.utf8)))
        #expect(result.objects.map(\.key) == ["photos/été & plage.jpg", "photos/a+b%20c~d"])
        #expect(result.objects[0].size == 142_863)
        #expect(result.objects[0].etag == "\"599bab3ed2c697f1d26842727561fd94\"")
        #expect(result.objects[1].modified == Date(timeIntervalSince1970: 1_255_369_830))
        #expect(result.commonPrefixes == ["photos/2026/"])
        #expect(result.nextToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        let last = xml.replacingOccurrences(of: "<IsTruncated>true</IsTruncated>", with: "<IsTruncated>false</IsTruncated>")
        #expect(S3XML.listResult(Array(last.utf8))?.nextToken == nil)
    }

    @Test func errors() throws {
        let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>
        <Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>
        """
        #expect(S3XML.error(Array(xml.utf8)) == .init(code: "NoSuchKey", message: "The resource you requested does not exist"))
        #expect(S3XML.error(Array("<ListBucketResult/>".utf8)) == nil)
        #expect(S3XML.error(Array("not xml at all".utf8)) == nil)
    }

    @Test func multipartDocuments() throws {
        let initiated = """
        <InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Bucket>example-bucket</Bucket><Key>example-object</Key>
          <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
        </InitiateMultipartUploadResult>
        """
        #expect(S3XML.uploadID(Array(initiated.utf8)) == "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
        let completed = """
        <CompleteMultipartUploadResult><Location>http://b.s3.amazonaws.com/k</Location><Bucket>b</Bucket><Key>k</Key>
        <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag></CompleteMultipartUploadResult>
        """
        #expect(S3XML.etag(Array(completed.utf8)) == "\"3858f62230ac3c915f300c664312c11f-9\"")
        let copied = "<CopyPartResult><LastModified>2011-04-11T20:34:56.000Z</LastModified><ETag>\"b0c6f0e7\"</ETag></CopyPartResult>"
        #expect(S3XML.etag(Array(copied.utf8)) == "\"b0c6f0e7\"")
        // An error inside a 200 answer is not an ETag.
        #expect(S3XML.etag(Array("<Error><Code>InternalError</Code></Error>".utf8)) == nil)
        let pending = """
        <ListMultipartUploadsResult><Bucket>b</Bucket>
        <Upload><Key>a/b.bin</Key><UploadId>id1</UploadId></Upload><Upload><Key>c</Key><UploadId>id2</UploadId></Upload>
        </ListMultipartUploadsResult>
        """
        #expect(S3XML.pendingUploads(Array(pending.utf8))?.uploads.map(\.uploadID) == ["id1", "id2"])
        #expect(S3XML.completeMultipart([(1, "\"a\""), (2, "\"b\"")])
                == "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>")
    }

    @Test func deleteResults() throws {
        let xml = """
        <DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Deleted><Key>sample1.txt</Key></Deleted>
          <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
        </DeleteResult>
        """
        let errors = try #require(S3XML.deleteErrors(Array(xml.utf8)))
        #expect(errors.count == 1 && errors[0].key == "sample2.txt" && errors[0].code == "AccessDenied")
        #expect(S3XML.deleteObjects(["a&b", "c"]) == "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>")
    }

    /// Keys are escaped scalar by scalar: `&` or `<` followed by a combining mark is one Character,
    /// and was written raw, which made the DeleteObjects document malformed.
    @Test func escapingWorksOnScalars() throws {
        let key = "a&\u{301}b<\u{301}c\"'>"
        #expect(S3XML.escape(key) == "a&amp;\u{301}b&lt;\u{301}c&quot;&apos;&gt;")
        let document = S3XML.deleteObjects([key])
        let root = try #require(S3XMLElement.parse(Array(document.utf8)))
        #expect(root.child("Object")?.value("Key") == key)
    }

    @Test func dates() {
        #expect(UTCTime.parseHTTPDate("Wed, 12 Oct 2009 17:50:00 GMT") == Date(timeIntervalSince1970: 1_255_369_800))
        #expect(UTCTime.parseISO8601("2009-10-12T17:50:30.000Z") == Date(timeIntervalSince1970: 1_255_369_830))
        #expect(UTCTime.parseHTTPDate("garbage") == nil)
    }

    @Test func errorCodesMapToStorageErrors() {
        let request = S3Client.Request(operation: .getObject, bucket: "b", key: "k")
        #expect(S3Client.storageError(status: 404, code: "NoSuchKey", request: request) == .notFound(key: "k"))
        #expect(S3Client.storageError(status: 404, code: "NoSuchBucket", request: request) == .bucketNotFound(bucket: "b"))
        #expect(S3Client.storageError(status: 404, code: nil, request: request) == .notFound(key: "k"))
        guard case .accessDenied = S3Client.storageError(status: 403, code: "SignatureDoesNotMatch", request: request) else {
            Issue.record("SignatureDoesNotMatch")
            return
        }
        guard case .throttled = S3Client.storageError(status: 503, code: "SlowDown", request: request) else {
            Issue.record("SlowDown")
            return
        }
        #expect(S3Client.isRetryable(status: 503, code: "SlowDown"))
        #expect(S3Client.isRetryable(status: 500, code: nil))
        #expect(S3Client.isRetryable(status: 400, code: "RequestTimeout"))
        #expect(!S3Client.isRetryable(status: 404, code: "NoSuchKey"))
        #expect(!S3Client.isRetryable(status: 403, code: "AccessDenied"))
    }

    @Test func partSizeIsRaisedToFitTenThousandParts() {
        let small = S3Settings(endpoint: "http://h", region: "r", accessKey: "a", secretKey: "s", addressing: .path,
                               partSize: 16 << 20, maxObjectSize: 200 << 30)
        #expect(small.effectivePartSize == 21 << 20)  // 200 GiB / 16 MiB = 12,800 parts: raised to 21 MiB
        let fits = S3Settings(endpoint: "http://h", region: "r", accessKey: "a", secretKey: "s", addressing: .path,
                              partSize: 16 << 20, maxObjectSize: 100 << 30)
        #expect(fits.effectivePartSize == 16 << 20)
        let huge = S3Settings(endpoint: "http://h", region: "r", accessKey: "a", secretKey: "s", addressing: .path,
                              partSize: 16 << 20, maxObjectSize: 5 << 40)
        #expect(huge.effectivePartSize * 10_000 >= 5 << 40)
        #expect(huge.effectivePartSize % (1 << 20) == 0)
    }
}
