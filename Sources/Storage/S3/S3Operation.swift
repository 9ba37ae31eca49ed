/// The S3 API calls Ferry makes, named as the S3 API reference names them: the name labels the
/// request metrics and the log, and fixes the HTTP method.
enum S3Operation: String, Sendable, CaseIterable {
    case headObject = "HeadObject"
    case getObject = "GetObject"
    case putObject = "PutObject"
    case copyObject = "CopyObject"
    case deleteObject = "DeleteObject"
    case deleteObjects = "DeleteObjects"
    case listObjects = "ListObjectsV2"
    case listMultipartUploads = "ListMultipartUploads"
    case listParts = "ListParts"
    case createMultipartUpload = "CreateMultipartUpload"
    case uploadPart = "UploadPart"
    case uploadPartCopy = "UploadPartCopy"
    case completeMultipartUpload = "CompleteMultipartUpload"
    case abortMultipartUpload = "AbortMultipartUpload"

    var method: String {
        switch self {
        case .headObject: "HEAD"
        case .getObject, .listObjects, .listMultipartUploads, .listParts: "GET"
        case .putObject, .copyObject, .uploadPart, .uploadPartCopy: "PUT"
        case .deleteObject, .abortMultipartUpload: "DELETE"
        case .deleteObjects, .createMultipartUpload, .completeMultipartUpload: "POST"
        }
    }
}
