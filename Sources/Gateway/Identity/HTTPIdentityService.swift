import Auth
import Foundation
import HTTPTransport
import Locking
import Logging

/// `[auth] http`: POSTs each login it is asked about to the operator's identity service and turns
/// the answer into a user, through the same checks as a `[[user]]` table (docs/auth-hook.md).
///
/// Request (JSON): `{"user", "password" | "public_key", "protocol", "client_address"}`, the key as an
/// OpenSSH `authorized_keys` line. Answer: `200` with `{"allow": true, "user": {...}}` (the `[[user]]`
/// keys but the credentials: `home`, `authority`, `delete`, `max_sessions`, `folder`; `name`, when
/// given, must be the login name) allows; `200` with `{"allow": false}`, `401` or `403` denies.
/// Anything else (another status, a timeout, a body that is not such JSON, a user that fails the
/// checks) refuses the login with the reason logged: a failing service never opens the door.
final class HTTPIdentityService: IdentityService {
    let url: String
    private let settings: CurlSettings
    private let storages: [FerryConfig.Storage]
    private let logger: Logger
    private let idleHandles = Locked<[CurlEasy]>([])

    /// Answers longer than this are refused (a user definition is a few hundred bytes).
    static let maxAnswerBytes = 64 * 1024
    /// Idle handles kept for keep-alive to the service.
    static let maxIdleHandles = 4

    init(auth: FerryConfig.Auth, url: String, storages: [FerryConfig.Storage], logger: Logger) {
        self.url = url
        let milliseconds = max(1, Int((auth.timeout * 1000).rounded()))
        self.settings = CurlSettings(caFile: auth.caFile, connectTimeout: max(1, Int(auth.timeout.rounded(.up))),
                                     stallTimeout: max(1, Int(auth.timeout.rounded(.up))),
                                     totalTimeoutMilliseconds: milliseconds)
        self.storages = storages
        self.logger = logger
    }

    func ask(_ query: IdentityQuery) -> IdentityAnswer {
        let body: [UInt8]
        do {
            body = try Self.requestBody(query)
        } catch {
            return .failed(reason: "cannot encode the request: \(error)")
        }
        let handle: CurlEasy
        if let idle = idleHandles.withLock({ $0.popLast() }) {
            handle = idle
        } else {
            do {
                handle = try CurlEasy(settings: settings)
            } catch {
                return .failed(reason: "\(error)")
            }
        }
        var answer: [UInt8] = []
        var tooLong = false
        let started = Date()
        let outcome: Result<HTTPResponse, CurlError> = body.withUnsafeBytes { raw in
            do throws(CurlError) {
                let request = HTTPRequest(method: "POST", url: url, headers: [
                    ("content-type", "application/json"), ("accept", "application/json")], body: raw)
                return .success(try handle.perform(request) { _, _, bytes in
                    guard answer.count + bytes.count <= Self.maxAnswerBytes else {
                        tooLong = true
                        return false
                    }
                    answer.append(contentsOf: bytes)
                    return true
                })
            } catch {
                return .failure(error)
            }
        }
        idleHandles.withLock { if $0.count < Self.maxIdleHandles { $0.append(handle) } }
        let seconds = String(format: "%.3f", Date().timeIntervalSince(started))
        switch outcome {
        case .failure(let error):
            return .failed(reason: tooLong ? "the answer is longer than \(Self.maxAnswerBytes) bytes" : "\(error)")
        case .success(let response):
            logger.debug("identity service answered", metadata: [
                "user": "\(query.user)", "status": "\(response.status)", "seconds": "\(seconds)"])
            return interpret(status: response.status, body: answer, query: query)
        }
    }

    /// The JSON request; the credential is the only secret in it, and it goes nowhere else.
    static func requestBody(_ query: IdentityQuery) throws -> [UInt8] {
        var fields: [String: String] = ["user": query.user, "protocol": query.service, "client_address": query.clientAddress]
        switch query.credential {
        case .password(let password): fields["password"] = password
        case .publicKey(let blob): fields["public_key"] = authorizedKeyLine(blob)
        }
        return Array(try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
    }

    /// `type base64` (OpenSSH's authorized_keys form) of a wire-form key, whose first field is its
    /// type name (RFC 4253 §6.6).
    static func authorizedKeyLine(_ blob: [UInt8]) -> String {
        var type = "unknown"
        if blob.count >= 4 {
            let length = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
            if length <= blob.count - 4 { type = String(decoding: blob[4..<(4 + length)], as: UTF8.self) }
        }
        return "\(type) \(Data(blob).base64EncodedString())"
    }

    func interpret(status: Int, body: [UInt8], query: IdentityQuery) -> IdentityAnswer {
        switch status {
        case 200:
            break
        case 401, 403:
            return .denied(reason: "HTTP \(status)")
        default:
            return .failed(reason: "unexpected HTTP status \(status)")
        }
        let document: ConfigValue
        do {
            document = try JSONDecoder().decode(ConfigValue.self, from: Data(body))
        } catch {
            return .failed(reason: "the answer is not JSON")
        }
        guard case .table(let object) = document else { return .failed(reason: "the answer is not a JSON object") }
        let issues = ConfigIssues()
        let answer = TableReader(path: "answer", table: object, issues: issues)
        let allow = answer.bool("allow")
        let reason = answer.string("reason")  // optional, with either answer; for the log
        if allow == false {
            return .denied(reason: reason ?? "denied")
        }
        guard allow == true else {
            return .failed(reason: issues.all.first?.description ?? "the answer has no \"allow\": true or false")
        }
        guard let definition = answer.table("user") else {
            return .failed(reason: issues.all.first?.description ?? "an allowing answer has no \"user\" object")
        }
        answer.rejectUnknownKeys()
        var warnings: [String] = []
        let user = ConfigLoader().readUser(definition, storages: storages, fromIdentityService: query.user, warnings: &warnings)
        guard var user, issues.all.isEmpty else {
            return .failed(reason: "invalid user definition: " + issues.all.map(\.description).joined(separator: "; "))
        }
        user.definedByIdentityService = true
        return .allowed(user)
    }
}
