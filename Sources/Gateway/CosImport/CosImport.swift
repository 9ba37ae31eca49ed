import Auth
import Foundation
import Protocols

/// `ferry import-cos-config`: a cos-ftp-server V5 configuration (../shared/reference/cos-ftp-server.md)
/// turned into Ferry TOML, plus the credentials for a separate environment file and a report of
/// what became of every option. Each `[COS_ACCOUNT_n]` becomes a user whose home is its bucket on an
/// S3 storage (accounts with the same endpoint, region and keys share one storage); `[NETWORK]`,
/// `[FILE_OPTION]` and `[OPTIONAL]` map to `[ftp]`, `[limits]`, `[log]` and the storages as far as
/// they mean something in Ferry. Passwords are hashed, never copied.
struct CosImport {
    struct Options {
        /// Write the COS keys into the TOML instead of `env:` references (asked for with a flag).
        var inlineSecrets = false
        /// Use this endpoint for every account instead of COS's (a private deployment, or a test).
        var endpointOverride: String?
        /// Where the environment file goes, for the TOML's header comment.
        var environmentFileName = "cos-credentials.env"
    }

    enum Outcome: String {
        case mapped, ignored, unmapped
    }

    /// One line of the report: what happened to one option.
    struct ReportLine: CustomStringConvertible {
        let outcome: Outcome
        /// `SECTION.key`, or a section alone.
        let option: String
        let text: String
        var description: String { "\(outcome.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))\(option): \(text)" }
    }

    /// Input that cannot be converted, naming its section and key.
    struct ImportError: Error, CustomStringConvertible {
        let section: String
        let key: String?
        let line: Int
        let reason: String
        var description: String {
            let place = key.map { "[\(section)] \($0)" } ?? "[\(section)]"
            return line > 0 ? "\(place) (line \(line)): \(reason)" : "\(place): \(reason)"
        }
    }

    var toml: String
    /// Variables for the environment file (empty with `inlineSecrets`).
    var environment: [(name: String, value: String)]
    var report: [ReportLine]

    static let accountPrefix = "COS_ACCOUNT_"
}

extension CosImport {
    /// Converts `file` (read from `source`, named in the output's header). `hash` makes a
    /// password hash (`PasswordHash.make` outside tests).
    static func convert(_ file: CosINIFile, source: String, options: Options,
                        hash: (String) -> String?) throws(ImportError) -> CosImport {
        var report: [ReportLine] = []
        let accounts = try accountSections(file, report: &report)
        var storages: [CosStorage] = []
        var users: [CosUser] = []
        for section in accounts {
            let account = try CosAccount(section, options: options, report: &report)
            if let clash = users.first(where: { $0.name == account.userName }) {
                throw ImportError(section: section.name, key: "ftp_login_user_name", line: account.userNameLine,
                                  reason: "\(account.userName.debugDescription) is also the login of [\(clash.section)]; logins must be unique")
            }
            let storageIndex: Int
            if let existing = storages.firstIndex(where: { $0.sameService(as: account) }) {
                storageIndex = existing
            } else {
                storages.append(CosStorage(account: account))
                storageIndex = storages.count - 1
            }
            guard let passwordHash = hash(account.password) else {
                throw ImportError(section: section.name, key: "ftp_login_user_password", line: account.passwordLine,
                                  reason: "crypt(3) could not hash the password")
            }
            users.append(CosUser(section: section.name, name: account.userName, passwordHash: passwordHash,
                                 storage: storageIndex, bucket: account.bucket, authority: account.authority,
                                 mayDelete: account.mayDelete))
        }
        let general = try CosGeneralSettings(file, report: &report)
        // Storage names and variable names: plain when there is one, numbered when there are several.
        let single = storages.count == 1
        for index in storages.indices {
            storages[index].name = single ? "cos" : "cos-\(index + 1)"
            storages[index].variableSuffix = single ? "" : "_\(index + 1)"
        }
        var environment: [(name: String, value: String)] = []
        if !options.inlineSecrets {
            for storage in storages {
                environment.append(("COS_SECRET_ID" + storage.variableSuffix, storage.secretID))
                environment.append(("COS_SECRET_KEY" + storage.variableSuffix, storage.secretKey))
            }
        }
        let toml = render(source: source, options: options, general: general, storages: storages, users: users)
        return CosImport(toml: toml, environment: environment, report: report)
    }

    /// The `[COS_ACCOUNT_n]` sections in number order; other unknown sections are reported.
    private static func accountSections(_ file: CosINIFile, report: inout [ReportLine]) throws(ImportError) -> [CosINIFile.Section] {
        var accounts: [(number: Int, section: CosINIFile.Section)] = []
        for section in file.sections {
            if section.name.hasPrefix(accountPrefix) {
                guard let number = Int(section.name.dropFirst(accountPrefix.count)), number >= 0 else {
                    throw ImportError(section: section.name, key: nil, line: section.line,
                                      reason: "an account section is named COS_ACCOUNT_ followed by a number")
                }
                accounts.append((number, section))
            } else if !["NETWORK", "FILE_OPTION", "OPTIONAL"].contains(section.name) {
                report.append(ReportLine(outcome: .unmapped, option: section.name,
                                         text: "not a cos-ftp-server section; its \(section.keys.count) keys are not imported"))
            }
        }
        guard !accounts.isEmpty else {
            throw ImportError(section: "\(accountPrefix)0", key: nil, line: 0,
                              reason: "no [COS_ACCOUNT_n] section: there is no user to import")
        }
        return accounts.sorted { $0.number < $1.number }.map(\.section)
    }

    private static func render(source: String, options: Options, general: CosGeneralSettings,
                               storages: [CosStorage], users: [CosUser]) -> String {
        let q = QuotedString.quoted
        var out = ["# Converted by `ferry import-cos-config` from \(source) (cos-ftp-server V5).",
                   "# Check it with `ferry check-config --config FILE`; the report on stderr says what became of",
                   "# every option."]
        if options.inlineSecrets {
            out.append("# The COS keys are written below (--inline-secrets): keep this file private (mode 0600).")
        } else {
            out += ["# The COS keys are not in this file: they are env: references whose values were written to",
                    "# \(options.environmentFileName) (mode 0600). Give Ferry that environment: systemd",
                    "# EnvironmentFile=, or `set -a; . \(options.environmentFileName); set +a` in a shell."]
        }
        out += ["", "[ftp]", "listen = \(q("0.0.0.0:\(general.listenPort)"))",
                "passive_ports = \(q("\(general.passivePorts.lowerBound)-\(general.passivePorts.upperBound)"))"]
        if let masquerade = general.masqueradeAddress { out.append("masquerade_address = \(q(masquerade))") }
        out += ["# cos-ftp-server had no FTPS. To offer it, add a [tls] section with a certificate and set",
                "# tls = \"optional\" (or \"required\", so that passwords never travel in clear).",
                "tls = \"off\""]
        var limits: [String] = []
        if let maxConnections = general.maxConnections { limits.append("max_connections = \(maxConnections)") }
        if !limits.isEmpty { out += [""] + ["[limits]"] + limits }
        if let level = general.logLevel { out += ["", "[log]", "level = \(q(level))"] }
        for storage in storages {
            out += ["", "[[storage]]", "name = \(q(storage.name))", "driver = \"s3\"", "endpoint = \(q(storage.endpoint))",
                    "region = \(q(storage.region))"]
            if options.inlineSecrets {
                out += ["access_key = \(q(storage.secretID))", "secret_key = \(q(storage.secretKey))"]
            } else {
                out += ["access_key = \(q("env:COS_SECRET_ID" + storage.variableSuffix))",
                        "secret_key = \(q("env:COS_SECRET_KEY" + storage.variableSuffix))"]
            }
            if options.endpointOverride == nil { out.append("addressing = \"virtual-hosted\"") }
            // COS does not document If-None-Match on uploads (nor may a private COS deployment
            // behind --endpoint honour it): ask before each new file instead.
            out.append("conditional_writes = false")
            if let partSize = general.partSize { out.append("part_size = \(q(String(partSize)))") }
            if let concurrency = general.uploadConcurrency { out.append("upload_concurrency = \(concurrency)") }
            if let maxObjectSize = general.maxObjectSize { out.append("max_object_size = \(q(String(maxObjectSize)))") }
        }
        for user in users {
            out += ["", "# from [\(user.section)]", "[[user]]", "name = \(q(user.name))", "password_hash = \(q(user.passwordHash))",
                    "home = \(q("\(storages[user.storage].name):\(user.bucket)"))", "authority = \(q(user.authority.rawValue))",
                    "delete = \(user.mayDelete)"]
        }
        return out.joined(separator: "\n") + "\n"
    }
}
