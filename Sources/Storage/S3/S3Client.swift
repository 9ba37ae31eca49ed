import Foundation
import Logging
import Locking
import Digests
import HTTPTransport
import MetricCatalog

/// Where the bucket goes in a request URL (`[[storage]] addressing`).
public enum S3Addressing: String, Sendable, CaseIterable {
    /// `https://bucket.host/key`: AWS, COS, R2 and every service with DNS per bucket.
    case virtualHosted = "virtual-hosted"
    /// `https://host/bucket/key`: IP endpoints, localhost, MinIO and SeaweedFS test servers.
    case path
}

/// How to reach one S3-compatible service.
public struct S3Settings: Sendable {
    public var endpoint: String
    public var region: String
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?
    public var addressing: S3Addressing
    public var caFile: String?
    public var partSize: UInt64
    public var uploadConcurrency: Int
    public var maxObjectSize: UInt64
    /// Attempts for a retryable request (1 = no retry).
    public var maxAttempts: Int
    /// The process-wide budget that part buffers and download windows are leased from.
    public var transferMemory: TransferMemory
    /// The threads that send upload parts (shared by every driver of the process).
    public var partWorkers: WorkerPool
    /// Where listings take a file's time from (`[[storage]] listing_times`).
    public var listingTimes: S3ListingTimes = .stored
    /// Whether the store honours `If-None-Match: *` on PutObject and CompleteMultipartUpload
    /// (`[[storage]] conditional_writes`): an upload of a file the session believes new then
    /// asks nothing first (`StorageCapabilities.createsOnlyIfAbsent`).
    public var conditionalWrites = true

    public init(endpoint: String, region: String, accessKey: String, secretKey: String, sessionToken: String? = nil,
                addressing: S3Addressing, caFile: String? = nil, partSize: UInt64 = 16 << 20, uploadConcurrency: Int = 4,
                maxObjectSize: UInt64 = 5 << 40, maxAttempts: Int = 5,
                transferMemory: TransferMemory = .unconfigured, partWorkers: WorkerPool = .defaultPartUploads) {
        self.transferMemory = transferMemory
        self.partWorkers = partWorkers
        self.endpoint = endpoint
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.addressing = addressing
        self.caFile = caFile
        self.partSize = partSize
        self.uploadConcurrency = uploadConcurrency
        self.maxObjectSize = maxObjectSize
        self.maxAttempts = maxAttempts
    }

    /// `part_size`, raised (to a whole MiB) so that `max_object_size` fits in S3's 10,000 parts.
    public var effectivePartSize: UInt64 {
        let needed = (maxObjectSize + S3Limits.maxParts - 1) / S3Limits.maxParts
        let raised = max(partSize, needed, S3Limits.minPartSize)
        return (raised + (1 << 20) - 1) / (1 << 20) * (1 << 20)
    }
}

/// Limits of the S3 API.
enum S3Limits {
    static let maxParts: UInt64 = 10_000
    static let minPartSize: UInt64 = 5 << 20
    static let maxCopySize: UInt64 = 5 << 30
    static let maxDeleteBatch = 1000
}

/// A complete S3 response with its body.
struct S3Response {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// Signs, sends and retries S3 requests over pooled libcurl handles (one handle per request in
/// flight, returned for keep-alive). Shared by every thread of a driver.
final class S3Client: Sendable {
    let settings: S3Settings
    let logger: Logger
    private let signer: S3Signer
    private let scheme: String
    private let host: String
    private let port: Int?
    private let basePath: String
    private let curlSettings: CurlSettings
    /// Idle handles, kept for their live connections (keep-alive), oldest first.
    private let idleHandles = Locked<[IdleHandle]>([])

    private struct IdleHandle {
        let handle: CurlEasy
        let since: Date
    }

    /// At most this many idle handles (and their connections, 3 fds each) are kept per storage;
    /// more are closed when returned. Without a cap the pool kept one handle for every request that
    /// was ever in flight at once (69 handles, 207 fds after the soak).
    static let maxIdleHandles = 16
    /// An idle handle unused for this long is closed when the pool is next touched (S3 services
    /// close idle keep-alive connections after a few seconds to a minute anyway).
    static let idleHandleLifetime: TimeInterval = 30

    init(settings: S3Settings, logger: Logger) throws(StorageError) {
        guard let components = URLComponents(string: settings.endpoint), let scheme = components.scheme,
              let host = components.host, !host.isEmpty else {
            throw .invalidKey(detail: "bad endpoint \(settings.endpoint)")
        }
        self.settings = settings
        self.logger = logger
        self.scheme = scheme
        self.host = host
        self.port = components.port
        let path = components.path
        self.basePath = path.hasSuffix("/") ? path : path + "/"
        self.signer = S3Signer(accessKey: settings.accessKey, secretKey: settings.secretKey,
                               sessionToken: settings.sessionToken, region: settings.region)
        self.curlSettings = CurlSettings(caFile: settings.caFile)
    }

    // MARK: Handles

    private func takeHandle() throws(StorageError) -> CurlEasy {
        if let handle = idleHandles.withLock({ $0.popLast()?.handle }) { return handle }
        do {
            return try CurlEasy(settings: curlSettings)
        } catch {
            throw .unavailable(detail: error.description)
        }
    }

    /// Returns a handle for reuse (most recently used first), closing the ones past the cap or the
    /// idle lifetime. They are closed after the lock is released: closing a TLS connection does I/O.
    private func returnHandle(_ handle: CurlEasy) {
        let now = Date()
        let closed: [IdleHandle] = idleHandles.withLock { pool in
            pool.append(IdleHandle(handle: handle, since: now))
            let expired = pool.prefix { now.timeIntervalSince($0.since) > Self.idleHandleLifetime }.count
            let excess = max(0, pool.count - expired - Self.maxIdleHandles)
            let removed = Array(pool.prefix(expired + excess))
            pool.removeFirst(expired + excess)
            return removed
        }
        withExtendedLifetime(closed) {}
    }

    /// Idle handles in the pool now (for tests).
    var idleHandleCount: Int { idleHandles.withLock { $0.count } }

    // MARK: Requests

    struct Request {
        var operation: S3Operation
        var bucket: String
        var key: String = ""
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: UnsafeRawBufferPointer?
        /// Hex SHA-256 of the body (empty-body hash when nil).
        var payloadHash: String = Digest.emptySHA256
        /// Safe to repeat (every S3 call Ferry makes is, given the same body).
        var idempotent = true

        var method: String { operation.method }
    }

    private func target(_ request: Request) -> (url: String, encodedPath: String, host: String) {
        var hostName = host
        var path = basePath
        switch settings.addressing {
        case .path:
            path += request.bucket + (request.key.isEmpty && request.query.isEmpty ? "" : "/") + request.key
            if request.key.isEmpty && !request.query.isEmpty { path = basePath + request.bucket }
        case .virtualHosted:
            hostName = request.bucket + "." + host
            path += request.key
        }
        let hostHeader = port.map { "\(hostName):\($0)" } ?? hostName
        let encodedPath = S3Signer.uriEncode(path, keepSlash: true)
        let query = request.query.isEmpty ? "" : "?" + S3Signer.canonicalQuery(request.query)
        return ("\(scheme)://\(hostHeader)\(encodedPath)\(query)", encodedPath, hostHeader)
    }

    /// Sends a request, retrying transient failures with exponential backoff and jitter. The body is
    /// collected (S3 answers with small XML documents) unless `sink` takes it; non-2xx answers become
    /// a typed `StorageError` (the XML goes to the debug log, never to clients).
    func send(_ request: Request, sink: ((UnsafeRawBufferPointer, [String: String]) -> Bool)? = nil) throws(StorageError) -> S3Response {
        let (url, encodedPath, hostHeader) = target(request)
        var attempt = 0
        while true {
            attempt += 1
            let started = Date()
            let headers = try signer.sign(method: request.method, encodedPath: encodedPath, query: request.query,
                                      headers: [("host", hostHeader)] + request.headers, payloadHash: request.payloadHash,
                                      date: started)
            var body: [UInt8] = []
            let handle = try takeHandle()
            let outcome: Result<HTTPResponse, CurlError>
            do throws(CurlError) {
                outcome = .success(try handle.perform(HTTPRequest(method: request.method, url: url, headers: headers, body: request.body)) { status, headers, bytes in
                    // Error bodies and XML documents are collected; object data goes to the sink.
                    if let sink, (200..<300).contains(status) { return sink(bytes, headers) }
                    if body.count + bytes.count > 16 << 20 { return false }
                    body.append(contentsOf: bytes)
                    return true
                })
            } catch {
                outcome = .failure(error)
            }
            returnHandle(handle)
            let elapsed = Date().timeIntervalSince(started)
            Self.count(request.operation, status: Self.statusLabel(outcome, streaming: sink != nil), seconds: elapsed)
            switch outcome {
            case .failure(let error):
                logger.debug("s3 request failed", metadata: ["operation": "\(request.operation.rawValue)", "key": "\(request.bucket)/\(request.key)",
                                                             "error": "\(error)", "attempt": "\(attempt)"])
                if error.wasAbortedByCallback && sink != nil { throw .aborted }
                if error.isTransient && request.idempotent && attempt < settings.maxAttempts {
                    Self.countRetry(request.operation)
                    backoff(attempt)
                    continue
                }
                throw .unavailable(detail: "\(request.method) \(request.bucket)/\(request.key): \(error)")
            case .success(let response):
                logger.debug("s3 request", metadata: ["operation": "\(request.operation.rawValue)", "key": "\(request.bucket)/\(request.key)",
                                                      "status": "\(response.status)", "bytes": "\(body.count)",
                                                      "seconds": "\(String(format: "%.3f", elapsed))"])
                if (200..<300).contains(response.status) {
                    return S3Response(status: response.status, headers: response.headers, body: body)
                }
                let document = S3XML.error(body)
                if let document {
                    logger.debug("s3 error body", metadata: ["code": "\(document.code)", "message": "\(document.message)"])
                }
                let error = Self.storageError(status: response.status, code: document?.code, request: request)
                if Self.isRetryable(status: response.status, code: document?.code) && request.idempotent && attempt < settings.maxAttempts {
                    Self.countRetry(request.operation)
                    backoff(attempt)
                    continue
                }
                throw error
            }
        }
    }

    /// Sends a request whose body is a small XML document (signed with its SHA-256).
    func send(_ request: Request, document: String) throws(StorageError) -> S3Response {
        let bytes = Array(document.utf8)
        let outcome: Result<S3Response, StorageError> = bytes.withUnsafeBytes { raw in
            do throws(StorageError) {
                var withBody = request
                withBody.body = raw
                withBody.payloadHash = Digest.hex(try digesting { () throws(DigestError) in try Digest.sha256(raw) })
                withBody.headers.append(("content-type", "application/xml"))
                return .success(try send(withBody))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// The status label of a request: the HTTP status, "aborted" when Ferry stopped reading an
    /// answer on purpose (a download the client cancelled), "error" when no answer came.
    private static func statusLabel(_ outcome: Result<HTTPResponse, CurlError>, streaming: Bool) -> String {
        switch outcome {
        case .success(let response): String(response.status)
        case .failure(let error): error.wasAbortedByCallback && streaming ? "aborted" : "error"
        }
    }

    /// One request in the metrics: counted by operation and status (`statusLabel`), its latency in
    /// the operation's histogram.
    private static func count(_ operation: S3Operation, status: String, seconds: TimeInterval) {
        FerryMetric.s3Requests.increment(operation.rawValue, status)
        FerryMetric.s3RequestDuration.observe(seconds: seconds, operation.rawValue)
    }

    /// One request repeated after a transient failure (here, or by a download stream resuming).
    static func countRetry(_ operation: S3Operation) {
        FerryMetric.s3Retries.increment(operation.rawValue)
    }

    private func backoff(_ attempt: Int) {
        Thread.sleep(forTimeInterval: Self.retryDelay(attempt: attempt))
    }

    static func isRetryable(status: Int, code: String?) -> Bool {
        if [500, 502, 503, 504].contains(status) { return true }
        return ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed"].contains(code ?? "")
    }

    /// S3 error codes and statuses → the driver contract's errors.
    static func storageError(status: Int, code: String?, request: Request) -> StorageError {
        let detail = "\(request.method) \(request.bucket)/\(request.key): HTTP \(status) \(code ?? "")"
        switch code {
        case "NoSuchKey": return .notFound(key: request.key)
        case "NoSuchBucket": return .bucketNotFound(bucket: request.bucket)
        case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AllAccessDisabled", "ExpiredToken",
             "InvalidToken", "InvalidSecurity", "AccountProblem":
            return .accessDenied(detail: detail)
        case "SlowDown", "Throttling", "RequestLimitExceeded", "TooManyRequests": return .throttled(detail: detail)
        case "EntityTooLarge", "QuotaExceeded": return .insufficientSpace(detail: detail)
        case "KeyTooLongError", "InvalidObjectName", "InvalidURI": return .invalidKey(detail: detail)
        case "PreconditionFailed", "InvalidRange", "NoSuchUpload", "InvalidPart", "InvalidPartOrder": return .conflict(detail: detail)
        case "NotImplemented": return .unsupported(detail: detail)
        default:
            switch status {
            case 404: return request.key.isEmpty ? .bucketNotFound(bucket: request.bucket) : .notFound(key: request.key)
            case 403, 401: return .accessDenied(detail: detail)
            case 412, 416, 409: return .conflict(detail: detail)
            case 429: return .throttled(detail: detail)
            case 500...599: return .unavailable(detail: detail)
            default: return .io(detail: detail)
            }
        }
    }
}
