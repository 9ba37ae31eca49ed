internal import CCurl
internal import CCurlShims
import Foundation

/// A libcurl failure (the transport could not complete the exchange); `code` and `text` are for logs.
public struct CurlError: Error, CustomStringConvertible {
    public let code: Int32
    public let text: String
    /// True for failures worth retrying: connection refused/reset, timeouts, partial transfers.
    public var isTransient: Bool {
        [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR,
         CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR,
         CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_SEND_FAIL_REWIND].map { Int32($0.rawValue) }.contains(code)
    }
    public var wasAbortedByCallback: Bool { code == Int32(CURLE_WRITE_ERROR.rawValue) || code == Int32(CURLE_ABORTED_BY_CALLBACK.rawValue) }
    public var description: String { "curl error \(code): \(text)" }
}

/// One HTTP exchange to perform.
public struct HTTPRequest {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    /// Bytes to send (PUT, POST); must stay valid during `perform`.
    public var body: UnsafeRawBufferPointer?

    public init(method: String, url: String, headers: [(String, String)], body: UnsafeRawBufferPointer? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// What came back (the body goes to the sink given to `perform`).
public struct HTTPResponse {
    public var status: Int
    public var headers: [String: String]
}

/// Settings shared by every handle of a client.
public struct CurlSettings: Sendable {
    public var caFile: String?
    /// Seconds to establish the connection.
    public var connectTimeout: Int = 10
    /// A transfer slower than 1 byte/s for this long (seconds) is aborted (a stalled connection).
    public var stallTimeout: Int = 60
    /// The whole exchange, connection included, in milliseconds; nil = no limit (S3 streams).
    public var totalTimeoutMilliseconds: Int?

    public init(caFile: String? = nil, connectTimeout: Int = 10, stallTimeout: Int = 60, totalTimeoutMilliseconds: Int? = nil) {
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
    }
}

/// Owns one libcurl easy handle (design.md §3: one per thread, reused for keep-alive). The only file
/// that calls libcurl. `@unchecked Sendable`: a handle belongs to one thread at a time; it only moves
/// between threads through the client's pool, under its mutex.
public final class CurlEasy: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let settings: CurlSettings

    public init(settings: CurlSettings) throws(CurlError) {
        guard CurlLibrary.isInitialized else {
            throw CurlError(code: -1, text: "libcurl is not initialised (CLibraries.initialize was not called)")
        }
        guard let handle = curl_easy_init() else {
            throw CurlError(code: -1, text: "curl_easy_init failed")
        }
        self.handle = handle
        self.settings = settings
    }

    deinit { curl_easy_cleanup(handle) }

    /// State shared with the C callbacks through `Unmanaged` userdata; `perform` keeps it alive.
    fileprivate final class Exchange {
        var sink: (Int, [String: String], UnsafeRawBufferPointer) -> Bool
        var body: UnsafeRawBufferPointer?
        var bodyOffset = 0
        var status = 0
        var headers: [String: String] = [:]

        init(sink: @escaping (Int, [String: String], UnsafeRawBufferPointer) -> Bool, body: UnsafeRawBufferPointer?) {
            self.sink = sink
            self.body = body
        }
    }

    private func check(_ code: CURLcode) throws(CurlError) {
        guard code == CURLE_OK else { throw CurlError(code: Int32(code.rawValue), text: String(cString: curl_easy_strerror(code))) }
    }

    /// Performs one request, streaming the response body to `sink` with the response status (return
    /// false to abort). Blocks the calling thread; `sink` runs on it.
    public func perform(_ request: HTTPRequest, sink: @escaping (Int, [String: String], UnsafeRawBufferPointer) -> Bool) throws(CurlError) -> HTTPResponse {
        curl_easy_reset(handle)  // keeps the live connections, so keep-alive survives
        let exchange = Exchange(sink: sink, body: request.body)
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        headerList = curl_slist_append(headerList, "Expect:")  // no 100-continue round trip
        let result: CURLcode = withExtendedLifetime(exchange) {
            request.url.withCString { url in
                request.method.withCString { method in
                    var rc = ferry_curl_setopt_pointer(handle, CURLOPT_URL, url)
                    if rc == CURLE_OK { rc = ferry_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 256 * 1024) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, settings.connectTimeout) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.stallTimeout) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_write_function(handle, curlWriteCallback) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_header_function(handle, curlHeaderCallback) }
                    if rc == CURLE_OK { rc = ferry_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context) }
                    if rc == CURLE_OK, let limit = settings.totalTimeoutMilliseconds {
                        rc = ferry_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, limit)
                    }
                    if rc == CURLE_OK, let caFile = settings.caFile {
                        rc = caFile.withCString { ferry_curl_setopt_pointer(handle, CURLOPT_CAINFO, $0) }
                    }
                    if rc == CURLE_OK {
                        switch request.method {
                        case "HEAD":
                            rc = ferry_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
                        case "GET":
                            break
                        case "PUT" where request.body != nil, "POST" where request.body != nil:
                            rc = ferry_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                            if rc == CURLE_OK { rc = ferry_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body!.count)) }
                            if rc == CURLE_OK { rc = ferry_curl_setopt_read_function(handle, curlReadCallback) }
                            if rc == CURLE_OK { rc = ferry_curl_setopt_pointer(handle, CURLOPT_READDATA, context) }
                            // A reused connection that dies mid-body makes curl resend on a new one:
                            // it must be able to rewind the body.
                            if rc == CURLE_OK { rc = ferry_curl_setopt_seek_function(handle, curlSeekCallback) }
                            if rc == CURLE_OK { rc = ferry_curl_setopt_pointer(handle, CURLOPT_SEEKDATA, context) }
                            if rc == CURLE_OK { rc = ferry_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, method) }
                        default:
                            rc = ferry_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, method)
                        }
                    }
                    if rc != CURLE_OK { return rc }
                    return curl_easy_perform(handle)
                }
            }
        }
        try check(result)
        var status = 0
        _ = ferry_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: exchange.headers)
    }

    fileprivate static func exchange(_ pointer: UnsafeMutableRawPointer?) -> Exchange {
        Unmanaged<Exchange>.fromOpaque(pointer!).takeUnretainedValue()
    }

    fileprivate static func write(_ data: UnsafeMutablePointer<CChar>?, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
        let exchange = exchange(context)
        let bytes = UnsafeRawBufferPointer(start: data, count: count)
        return exchange.sink(exchange.status, exchange.headers, bytes) ? count : 0
    }

    fileprivate static func header(_ data: UnsafeMutablePointer<CChar>?, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
        let exchange = exchange(context)
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            exchange.headers = [:]  // a new response (after a redirect or 100 Continue)
            let fields = line.split(separator: " ")
            if fields.count >= 2, let status = Int(fields[1]) { exchange.status = status }
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            exchange.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return count
    }

    fileprivate static func read(_ data: UnsafeMutablePointer<CChar>?, _ capacity: Int, _ context: UnsafeMutableRawPointer?) -> Int {
        let exchange = exchange(context)
        guard let body = exchange.body, let data else { return 0 }
        let count = min(capacity, body.count - exchange.bodyOffset)
        if count > 0 {
            UnsafeMutableRawPointer(data).copyMemory(from: body.baseAddress! + exchange.bodyOffset, byteCount: count)
            exchange.bodyOffset += count
        }
        return count
    }
}

extension CurlEasy {
    /// Repositions the request body (only absolute positions inside it are possible).
    fileprivate static func seek(_ context: UnsafeMutableRawPointer?, _ offset: curl_off_t, _ origin: Int32) -> Int32 {
        let exchange = exchange(context)
        guard origin == SEEK_SET, let body = exchange.body, offset >= 0, offset <= curl_off_t(body.count) else {
            return Int32(CURL_SEEKFUNC_CANTSEEK)
        }
        exchange.bodyOffset = Int(offset)
        return Int32(CURL_SEEKFUNC_OK)
    }
}

// C callbacks are plain functions (never closures in top-level code; design.md §2).
private func curlWriteCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    CurlEasy.write(data, size * count, context)
}

private func curlHeaderCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    CurlEasy.header(data, size * count, context)
}

private func curlReadCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    CurlEasy.read(data, size * count, context)
}

private func curlSeekCallback(_ context: UnsafeMutableRawPointer?, _ offset: curl_off_t, _ origin: Int32) -> Int32 {
    CurlEasy.seek(context, offset, origin)
}
