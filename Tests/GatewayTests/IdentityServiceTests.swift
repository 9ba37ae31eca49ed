import Auth
import Foundation
@testable import Gateway
import Logging
import Testing

/// `[auth] http`: how an answer becomes a user (the `[[user]]` checks), a denial or a failure, and
/// how the request is written. The HTTP exchange itself is tested with a real service in
/// Tests/IntegrationTests/test_auth_hook.py.
@Suite struct IdentityServiceTests {
    static let storages = [FerryConfig.Storage(name: "local", driver: .local(root: "data"))]

    static func service() -> HTTPIdentityService {
        HTTPIdentityService(auth: FerryConfig.Auth(), url: "http://127.0.0.1:1/auth", storages: storages,
                            logger: Logger(label: "test"))
    }

    static let query = IdentityQuery(user: "carol", credential: .password("pw"), service: "ftp", clientAddress: "10.0.0.7")

    static func interpret(_ json: String, status: Int = 200) -> IdentityAnswer {
        service().interpret(status: status, body: Array(json.utf8), query: query)
    }

    static func failure(_ answer: IdentityAnswer) -> String? {
        if case .failed(let reason) = answer { reason } else { nil }
    }

    @Test func allowedAnswerBecomesTheUser() throws {
        let answer = Self.interpret("""
            {"allow": true, "user": {"home": "local:files/carol", "authority": "WO", "delete": false, "max_sessions": 2,
             "folder": [{"path": "/pub", "target": "local:files/pub", "authority": "RO"}]}}
            """)
        guard case .allowed(let user) = answer else { Issue.record("\(answer)"); return }
        #expect(user.name == "carol" && user.home.description == "local:files/carol/")
        #expect(user.authority == .writeOnly && !user.mayDelete && user.maxSessions == 2)
        #expect(user.folders.count == 1 && user.folders[0].authority == .readOnly && user.folders[0].path == "/pub")
        #expect(user.passwordHash == nil && user.sshKeys.isEmpty)
    }

    @Test func denialsAndFailures() {
        guard case .denied(let reason) = Self.interpret(#"{"allow": false, "reason": "locked"}"#) else { Issue.record("not denied"); return }
        #expect(reason == "locked")
        guard case .denied = Self.interpret("", status: 403), case .denied = Self.interpret("", status: 401) else {
            Issue.record("401/403 must deny"); return
        }
        #expect(Self.failure(Self.interpret(#"{"allow": true, "user": {"home": "local:files/carol"}}"#, status: 500))?.contains("500") == true)
        #expect(Self.failure(Self.interpret("not json"))?.contains("not JSON") == true)
        #expect(Self.failure(Self.interpret("[1, 2]"))?.contains("not a JSON object") == true)
        #expect(Self.failure(Self.interpret(#"{"allow": "yes"}"#))?.contains("answer.allow") == true)
        #expect(Self.failure(Self.interpret(#"{"allow": true}"#))?.contains("no \"user\"") == true)
        #expect(Self.failure(Self.interpret(#"{"allow": null}"#)) != nil)
    }

    @Test func userDefinitionsAreCheckedLikeTheFile() {
        let cases: [(String, String)] = [
            (#"{"home": "nosuch:bucket"}"#, "unknown storage"),
            (#"{"home": "local:UPPER"}"#, "not a valid bucket name"),
            (#"{"authority": "RW"}"#, "answer.user.home: missing"),
            (#"{"home": "local:files/x", "authority": "ALL"}"#, "answer.user.authority"),
            (#"{"home": "local:files/x", "name": "mallory"}"#, "not \"carol\""),
            (#"{"home": "local:files/x", "password": "pw"}"#, "answer.user.password: unknown key"),
            (#"{"home": "local:files/x", "ssh_keys": []}"#, "answer.user.ssh_keys: unknown key"),
            (#"{"home": "local:files/x", "max_sessions": -1}"#, "answer.user.max_sessions"),
            (#"{"home": "local:files/x", "folder": [{"path": "/", "target": "local:files/y"}]}"#, "folder[1].path"),
        ]
        for (user, expected) in cases {
            let reason = Self.failure(Self.interpret(#"{"allow": true, "user": "# + user + "}"))
            #expect(reason?.contains(expected) == true, "\(user): \(reason ?? "allowed")")
        }
        #expect(Self.failure(Self.interpret(#"{"allow": true, "user": {"home": "local:files/x"}, "extra": 1}"#))?
            .contains("answer.extra: unknown key") == true)
    }

    @Test func requestCarriesTheCredentialAndAnAuthorizedKeysLine() throws {
        let body = try HTTPIdentityService.requestBody(Self.query)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: String])
        #expect(object == ["user": "carol", "password": "pw", "protocol": "ftp", "client_address": "10.0.0.7"])
        let blob: [UInt8] = [0, 0, 0, 11] + Array("ssh-ed25519".utf8) + [0, 0, 0, 2, 0xAB, 0xCD]
        let line = HTTPIdentityService.authorizedKeyLine(blob)
        #expect(line == "ssh-ed25519 " + Data(blob).base64EncodedString())
        #expect(HTTPIdentityService.authorizedKeyLine([0, 0, 0, 99, 1]).hasPrefix("unknown "))
        let keyQuery = IdentityQuery(user: "carol", credential: .publicKey(blob: blob), service: "sftp", clientAddress: "::1")
        let keyObject = try #require(try JSONSerialization.jsonObject(with: Data(try HTTPIdentityService.requestBody(keyQuery))) as? [String: String])
        #expect(keyObject["public_key"] == line && keyObject["password"] == nil)
    }

    @Test func authSectionIsValidated() throws {
        let config = try ConfigLoaderTests.load(ConfigLoaderTests.base + """
            [auth]
            http = "https://idp.example/ferry-auth"
            timeout = "2s"
            cache_ttl = "0s"
            file_users_first = false
            """)
        #expect(config.auth.http == "https://idp.example/ferry-auth" && config.auth.timeout == 2)
        #expect(config.auth.cacheTTL == 0 && !config.auth.fileUsersFirst)
        let issues = ConfigLoaderTests.issues(ConfigLoaderTests.base + ConfigLoaderTests.user() + """

            [auth]
            http = "ftp://idp.example/"
            timeout = "2m"
            """)
        #expect(issues.contains { $0.hasPrefix("auth.http: expected an http:// or https:// URL") }, "\(issues)")
        #expect(issues.contains { $0.hasPrefix("auth.timeout:") }, "\(issues)")
        // Without [[user]] tables, a configuration with an identity service is complete.
        #expect(ConfigLoaderTests.issues(ConfigLoaderTests.base).contains { $0.contains("no [[user]] and no [auth] http") })
    }
}
