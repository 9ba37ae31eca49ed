import Auth
import Foundation
import Protocols

/// One `[COS_ACCOUNT_n]` section, checked: the COS service it reaches and the FTP user it defines.
struct CosAccount {
    let section: String
    let endpoint: String
    let region: String
    let secretID: String
    let secretKey: String
    let bucket: String
    let userName: String
    let userNameLine: Int
    let password: String
    let passwordLine: Int
    let authority: Authority
    let mayDelete: Bool

    init(_ section: CosINIFile.Section, options: CosImport.Options, report: inout [CosImport.ReportLine]) throws(CosImport.ImportError) {
        let name = section.name
        func value(_ key: String) -> CosINIFile.Value? {
            section.values[key].flatMap { $0.text.isEmpty ? nil : $0 }
        }
        func required(_ key: String, _ meaning: String) throws(CosImport.ImportError) -> CosINIFile.Value {
            guard let found = value(key) else {
                throw CosImport.ImportError(section: name, key: key, line: section.line, reason: "missing: \(meaning)")
            }
            return found
        }
        func note(_ outcome: CosImport.Outcome, _ key: String, _ text: String) {
            report.append(CosImport.ReportLine(outcome: outcome, option: "\(name).\(key)", text: text))
        }
        secretID = try required("cos_secretid", "the COS SecretId (the S3 access key)").text
        secretKey = try required("cos_secretkey", "the COS SecretKey (the S3 secret key)").text
        bucket = try required("cos_bucket", "the bucket, with its APPID suffix (name-1250000000)").text
        let login = try required("ftp_login_user_name", "the FTP login")
        userName = login.text
        userNameLine = login.line
        let secret = try required("ftp_login_user_password", "the FTP password")
        password = secret.text
        passwordLine = secret.line
        let authorityValue = try required("authority", "RW, RO or WO")
        guard let parsedAuthority = Authority(configValue: authorityValue.text) else {
            throw CosImport.ImportError(section: name, key: "authority", line: authorityValue.line,
                                        reason: "expected RW, RO or WO, found \(authorityValue.text.debugDescription)")
        }
        authority = parsedAuthority
        switch value("delete_enable")?.text.lowercased() {
        case nil, "true": mayDelete = true
        case "false": mayDelete = false
        case let other?:
            throw CosImport.ImportError(section: name, key: "delete_enable", line: section.values["delete_enable"]?.line ?? 0,
                                        reason: "expected true or false, found \(other.debugDescription)")
        }
        let scheme = value("cos_protocol")?.text.lowercased() ?? "https"
        guard scheme == "https" || scheme == "http" else {
            throw CosImport.ImportError(section: name, key: "cos_protocol", line: section.values["cos_protocol"]?.line ?? 0,
                                        reason: "expected https or http, found \(scheme.debugDescription)")
        }
        let configuredEndpoint = value("cos_endpoint")?.text
        var region = value("cos_region")?.text
        if region == nil, let configuredEndpoint {
            region = Self.region(inEndpoint: configuredEndpoint)
        }
        guard let region else {
            throw CosImport.ImportError(section: name, key: "cos_region", line: section.line,
                                        reason: "missing: S3 signatures need the region (e.g. ap-guangzhou)"
                                            + (configuredEndpoint == nil ? "" : ", and cos_endpoint does not name one"))
        }
        self.region = region
        if let override = options.endpointOverride {
            endpoint = override
        } else if let configuredEndpoint {
            endpoint = configuredEndpoint.contains("://") ? configuredEndpoint : "\(scheme)://\(configuredEndpoint)"
        } else {
            endpoint = "\(scheme)://cos.\(region).myqcloud.com"
        }
        self.section = name

        // The report, key by key.
        for key in section.keys {
            switch key {
            case "cos_secretid", "cos_secretkey":
                note(.mapped, key, options.inlineSecrets ? "written into the storage (--inline-secrets)"
                                                         : "moved to the environment file; the storage names it with env:")
            case "cos_bucket": note(.mapped, key, "the home of user \(userName.debugDescription)")
            case "cos_region": note(.mapped, key, "storage region \(region.debugDescription)")
            case "cos_protocol", "cos_endpoint":
                note(.mapped, key, options.endpointOverride == nil ? "storage endpoint \(endpoint)"
                                                                  : "replaced by --endpoint \(endpoint)")
            case "home_dir":
                note(.ignored, key, "a local directory pyftpdlib needed on the FTP host; Ferry keeps no local home")
            case "ftp_login_user_name": note(.mapped, key, "user name")
            case "ftp_login_user_password": note(.mapped, key, "hashed into password_hash (yescrypt); the clear text is not kept")
            case "authority": note(.mapped, key, "authority = \(authority.rawValue)")
            case "delete_enable":
                note(.mapped, key, mayDelete ? "delete = true"
                     : "delete = false; in Ferry that also refuses uploads over existing non-empty files (not only DELE/RMD)")
            default:
                note(.unmapped, key, "not a cos-ftp-server account option")
            }
        }
    }

    /// `cos.<region>.myqcloud.com` / `cos.<region>.tencentcos.cn` (with or without a scheme).
    static func region(inEndpoint endpoint: String) -> String? {
        let host = endpoint.components(separatedBy: "://").last ?? endpoint
        let labels = host.split(separator: "/").first?.split(separator: ".") ?? []
        guard labels.count >= 3, labels[0] == "cos" else { return nil }
        let region = String(labels[1])
        return region.contains("-") ? region : nil
    }
}
