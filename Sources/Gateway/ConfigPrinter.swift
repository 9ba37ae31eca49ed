import Auth
import Foundation
import Protocols

/// Renders the effective configuration (defaults filled in) as TOML for `check-config`, with every
/// secret masked: plain passwords, password hashes, keys and tokens never appear.
enum ConfigPrinter {
    static func render(_ config: FerryConfig) -> String {
        var out: [String] = ["# Effective configuration (secrets masked)"]
        func quote(_ text: String) -> String { QuotedString.quoted(text) }
        func address(_ value: SocketAddress?) -> String { quote(value?.description ?? "") }
        func seconds(_ value: TimeInterval) -> String { quote(value.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(value) / 60)m" : "\(value)s") }
        if let ftp = config.ftp {
            out += ["", "[ftp]", "listen = \(address(ftp.listen))",
                    "passive_ports = \(quote(ftp.passivePorts.map { "\($0.lowerBound)-\($0.upperBound)" } ?? ""))",
                    "masquerade_address = \(quote(ftp.masqueradeText))",
                    "tls = \(quote(ftp.tls.rawValue))", "tls_session_reuse = \(quote(ftp.tlsSessionReuse.rawValue))",
                    "active_mode = \(ftp.activeMode)"]
            if !ftp.passiveAddressOverrides.isEmpty {
                let entries = ftp.passiveAddressOverrides.map { entry in
                    "{ networks = [\(entry.networks.map { quote($0.description) }.joined(separator: ", "))], address = \(quote(entry.address.host)) }"
                }
                out.append("passive_address_overrides = [\(entries.joined(separator: ", "))]")
            }
        }
        if let sftp = config.sftp {
            out += ["", "[sftp]", "listen = \(address(sftp.listen))", "host_keys = [\(sftp.hostKeys.map(quote).joined(separator: ", "))]",
                    "reorder_window = \(sftp.reorderWindow)", "max_sessions_per_connection = \(sftp.maxSessionsPerConnection)"]
            if let ciphers = sftp.ciphers { out.append("ciphers = [\(ciphers.map(quote).joined(separator: ", "))]") }
        }
        if let tls = config.tls {
            out += ["", "[tls]", "certificate = \(quote(tls.certificate))", "private_key = \(quote(tls.privateKey))",
                    "min_version = \(quote(tls.minVersion.rawValue))"]
            if let ciphers = tls.ciphers { out.append("ciphers = \(quote(ciphers))") }
        }
        let limits = config.limits
        out += ["", "[limits]", "max_connections = \(limits.maxConnections)", "max_connections_per_ip = \(limits.maxConnectionsPerIP)",
                "idle_timeout = \(seconds(limits.idleTimeout))", "max_login_failures = \(limits.maxLoginFailures)",
                "ban_time = \(seconds(limits.banTime))", "login_timeout = \(seconds(limits.loginTimeout))",
                "tls_handshake_timeout = \(seconds(limits.tlsHandshakeTimeout))",
                "data_connection_timeout = \(seconds(limits.dataConnectionTimeout))",
                "login_cache = \(seconds(limits.loginCache))", "directory_cache = \(seconds(limits.directoryCache))",
                "transfer_memory = \(limits.transferMemory)", "shutdown_grace = \(seconds(limits.shutdownGrace))",
                "max_hash_size = \(limits.maxHashSize)"]
        let proxy = config.proxyProtocol
        if !proxy.ftp.trustedSources.isEmpty || !proxy.sftp.trustedSources.isEmpty {
            func list(_ policy: ProxyProtocolPolicy) -> String {
                "[\(policy.trustedSources.map { quote($0.description) }.joined(separator: ", "))]"
            }
            out += ["", "[proxy_protocol]", "ftp_from = \(list(proxy.ftp))", "sftp_from = \(list(proxy.sftp))",
                    "header_timeout = \(seconds(proxy.ftp.headerTimeout))"]
        }
        out += ["", "[log]", "level = \(quote(config.log.level.rawValue))", "format = \(quote(config.log.format.rawValue))",
                "transfer_log = \(quote(config.log.transferLog))"]
        out += ["", "[metrics]", "listen = \(address(config.metrics.listen))"]
        let auth = config.auth
        if let url = auth.http {
            // Credentials in the URL (user:password@) are a secret: never printed.
            var shown = URLComponents(string: url)
            if shown?.password != nil || shown?.user != nil { shown?.user = "***"; shown?.password = nil }
            out += ["", "[auth]", "http = \(quote(shown?.string ?? url))", "timeout = \(seconds(auth.timeout))",
                    "cache_ttl = \(seconds(auth.cacheTTL))", "file_users_first = \(auth.fileUsersFirst)"]
            if let caFile = auth.caFile { out.append("ca_file = \(quote(caFile))") }
        }
        for storage in config.storages {
            out += ["", "[[storage]]", "name = \(quote(storage.name))"]
            switch storage.driver {
            case .local(let root):
                out += ["driver = \"local\"", "root = \(quote(root))"]
            case .s3(let s3):
                out += ["driver = \"s3\"", "endpoint = \(quote(s3.endpoint))", "region = \(quote(s3.region))"]
                if let key = s3.accessKey { out.append("access_key = \(key.masked)") }
                if let key = s3.secretKey { out.append("secret_key = \(key.masked)") }
                if let token = s3.sessionToken { out.append("session_token = \(token.masked)") }
                out += ["addressing = \(quote(s3.addressing.rawValue))", "part_size = \(s3.partSize)",
                        "upload_concurrency = \(s3.uploadConcurrency)", "max_object_size = \(s3.maxObjectSize)",
                        "listing_times = \(quote(s3.listingTimes.rawValue))", "conditional_writes = \(s3.conditionalWrites)"]
                if let ca = s3.caFile { out.append("ca_file = \(quote(ca))") }
            }
            out.append("abandoned_upload_age = \(seconds(storage.abandonedUploadAge))")
        }
        for user in config.users {
            out += ["", "[[user]]", "name = \(quote(user.name))"]
            if let hash = user.passwordHash {
                out.append(hash.isPlain ? "password = \"********\"   # plain text: replace with password_hash" : "password_hash = \"********\"")
            }
            if !user.sshKeys.isEmpty {
                out.append("ssh_keys = [\(user.sshKeys.map { quote("\($0.algorithm) … \($0.comment)") }.joined(separator: ", "))]")
            }
            out += ["home = \(quote(user.home.description))", "authority = \(quote(user.authority.rawValue))", "delete = \(user.mayDelete)",
                    "max_sessions = \(user.maxSessions)"]
            for folder in user.folders {
                out += ["[[user.folder]]", "path = \(quote(folder.path))", "target = \(quote(folder.target.description))",
                        "authority = \(quote(folder.authority.rawValue))", "delete = \(folder.mayDelete)"]
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
