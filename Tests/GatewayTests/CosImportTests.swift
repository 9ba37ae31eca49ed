import Auth
import Foundation
@testable import Gateway
import Testing

/// The INI reader and the conversion without the binary: what cos-ftp-server files in the wild look
/// like (CRLF, tabs, no spaces around `=`, comments after values, Chinese comments), and the
/// converted TOML loaded by the same loader as `check-config`.
@Suite struct CosImportTests {
    static func parse(_ text: String) throws -> CosINIFile { try CosINIFile(bytes: Array(text.utf8)) }

    @Test func readsTheFormsFoundInTheWild() throws {
        let text = "# 配置文件\r\n[COS_ACCOUNT_0]\r\ncos_bucket=b-1250000000\t\t# 桶名称\r\n  Authority =\tRW \r\n\r\n"
            + "[NETWORK]\nmasquerade_address = 203.0.113.10        # NAT\n"
        let file = try Self.parse(text)
        #expect(file.sections.map(\.name) == ["COS_ACCOUNT_0", "NETWORK"])
        let account = try #require(file.section("COS_ACCOUNT_0"))
        #expect(account.values["cos_bucket"]?.text == "b-1250000000" && account.values["cos_bucket"]?.line == 3)
        #expect(account.values["authority"]?.text == "RW")  // keys are compared in lower case
        #expect(file.section("NETWORK")?.values["masquerade_address"]?.text == "203.0.113.10")
    }

    @Test func malformedFilesNameTheLine() {
        let cases: [(String, String)] = [
            ("[A]\nx = 1\nx = 2\n", "line 3: [A] x is set twice"),
            ("[A]\n[A]\n", "line 2: section [A] appears twice"),
            ("x = 1\n", "line 1: x is outside any section"),
            ("[A]\nwhat\n", "line 2: expected key = value"),
            ("[]\n", "line 1: a section header must look like [NAME]"),
            ("[A]\n= 1\n", "line 2: a value without a key"),
        ]
        for (text, expected) in cases {
            do {
                _ = try Self.parse(text)
                Issue.record("\(text.debugDescription) was accepted")
            } catch {
                #expect("\(error)".hasPrefix(expected), "\(error)")
            }
        }
        #expect(throws: CosINIFile.ParseError.self) { _ = try CosINIFile(bytes: Array("[A]\nx = ".utf8) + [0xC3, 0x28]) }
    }

    static let account = """
        [COS_ACCOUNT_0]
        cos_secretid = AKID"quoted\\
        cos_secretkey = SECRET
        cos_bucket = photos-1250000000
        cos_region = ap-guangzhou
        ftp_login_user_name = user0
        ftp_login_user_password = pass0
        authority = W
        delete_enable = false
        """

    /// The output is TOML the loader accepts as it is, with the environment the key file gives.
    @Test func theConversionLoadsAsAConfiguration() throws {
        let file = try Self.parse(Self.account + "\n[OPTIONAL]\nmax_connection_num = 101\n")
        let result = try CosImport.convert(file, source: "vsftpd.conf", options: CosImport.Options()) { PasswordHash.make($0) }
        #expect(result.environment.map(\.name) == ["COS_SECRET_ID", "COS_SECRET_KEY"])
        #expect(result.environment.first?.value == "AKID\"quoted\\")
        #expect(!result.toml.contains("pass0") && !result.toml.contains("SECRET\n"))
        let loader = ConfigLoader(environment: Dictionary(uniqueKeysWithValues: result.environment.map { ($0.name, $0.value) }),
                                  checkFiles: false)
        let config = try loader.load(text: result.toml)
        let user = try #require(config.users.first)
        #expect(user.name == "user0" && user.authority == .writeOnly && !user.mayDelete)
        #expect(user.home.storage == "cos" && user.home.bucket == "photos-1250000000")
        #expect(config.limits.maxConnections == 50)
        guard case .s3(let s3) = try #require(config.storages.first).driver else {
            Issue.record("not an S3 storage")
            return
        }
        #expect(s3.endpoint == "https://cos.ap-guangzhou.myqcloud.com" && s3.addressing == .virtualHosted)
        #expect(s3.accessKey?.value == "AKID\"quoted\\")
        #expect(!s3.conditionalWrites, "COS does not document If-None-Match on uploads: ask first")
    }

    @Test func inlineSecretsAreQuotedForTOML() throws {
        let file = try Self.parse(Self.account)
        let result = try CosImport.convert(file, source: "v", options: CosImport.Options(inlineSecrets: true)) { PasswordHash.make($0) }
        #expect(result.environment.isEmpty)
        #expect(result.toml.contains(#"access_key = "AKID\"quoted\\""#))
        let config = try ConfigLoader(environment: [:], checkFiles: false).load(text: result.toml)
        guard case .s3(let s3) = try #require(config.storages.first).driver else { return }
        #expect(s3.accessKey?.value == "AKID\"quoted\\" && s3.secretKey?.value == "SECRET")
    }

    @Test func theEnvironmentFileQuotesWhatTheShellWouldChange() {
        #expect(ImportCosConfig.shellQuoted("AKIDabc123") == "AKIDabc123")
        #expect(ImportCosConfig.shellQuoted("a b") == "'a b'")
        #expect(ImportCosConfig.shellQuoted("it's $x") == #"'it'\''s $x'"#)
    }
}
