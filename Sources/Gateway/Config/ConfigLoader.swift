import Auth
import Foundation
import Logging
import Protocols
import Storage

/// Turns TOML text into a validated `FerryConfig`, or into the complete list of mistakes, each
/// naming its key path, what was found and what was expected.
struct ConfigLoader {
    /// The longest duration any setting accepts: a year.
    static let longestDuration: TimeInterval = 365 * 86_400
    var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Whether referenced files (certificates, keys, CA files) must be readable now.
    var checkFiles = true
    /// Whether host names (masquerade_address) are resolved now; the fuzzer never touches DNS.
    var resolveNames = true

    enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String)
        case invalid([ConfigIssue])

        var description: String {
            switch self {
            case .unreadable(let path): "cannot read the configuration file \(path)"
            case .invalid(let issues): issues.map { "config error: \($0)" }.joined(separator: "\n")
            }
        }
    }

    func load(path: String) throws(LoadError) -> FerryConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path)
        }
        return try load(text: text)
    }

    func load(text: String) throws(LoadError) -> FerryConfig {
        let issues = ConfigIssues()
        guard let root = TableReader.parse(text, issues: issues) else { throw .invalid(issues.all) }
        var config = FerryConfig()
        if let tls = root.table("tls") { config.tls = readTLS(tls, tlsWarnings: &config.warnings) }
        config.ftp = root.table("ftp").map { readFTP($0, tlsConfigured: config.tls != nil) }
        config.sftp = root.table("sftp").map { readSFTP($0) }
        if let limits = root.table("limits") { config.limits = readLimits(limits) }
        if let proxy = root.table("proxy_protocol") { config.proxyProtocol = readProxyProtocol(proxy) }
        if let log = root.table("log") { config.log = readLog(log) }
        if let metrics = root.table("metrics") { config.metrics = readMetrics(metrics) }
        if let auth = root.table("auth") { config.auth = readAuth(auth) }
        config.storages = readStorages(root.tableArray("storage"), issues: issues, warnings: &config.warnings)
        config.users = readUsers(root.tableArray("user"), storages: config.storages, issues: issues, warnings: &config.warnings)
        root.rejectUnknownKeys()
        // An upload whose client pauses (up to idle_timeout) sends no part meanwhile: a shorter age
        // would let the reaper abort it while its connection is still open.
        for (index, storage) in config.storages.enumerated()
        where storage.abandonedUploadAge > 0 && storage.abandonedUploadAge < config.limits.idleTimeout {
            config.warnings.append("storage[\(index + 1)].abandoned_upload_age of \(storage.name.debugDescription) (\(Int(storage.abandonedUploadAge)) s) is shorter than "
                                   + "[limits] idle_timeout (\(Int(config.limits.idleTimeout)) s): an upload paused that long may be aborted while its client is still connected")
        }
        if config.ftp?.listen == nil && config.sftp?.listen == nil && !root.has("ftp") && !root.has("sftp") {
            issues.add("(top level)", "neither [ftp] nor [sftp] is configured: nothing to serve")
        }
        if issues.all.isEmpty && config.users.isEmpty && config.auth.http == nil {
            issues.add("user", "no [[user]] and no [auth] http is configured: nobody can log in")
        }
        guard issues.all.isEmpty else { throw .invalid(issues.all) }
        return config
    }

    // MARK: Sections

    /// A setting that names one case of `E` (its raw values are the words the TOML uses): parsed
    /// here, once, so that nothing downstream compares strings. Nil when absent or invalid (an
    /// invalid word is an issue naming the allowed ones).
    private func enumValue<E: RawRepresentable & CaseIterable>(_ table: TableReader, _ key: String) -> E? where E.RawValue == String {
        guard let text = table.string(key) else { return nil }
        guard let parsed = E(rawValue: text) else {
            let allowed = E.allCases.map { $0.rawValue }.joined(separator: " | ")
            table.issues.add(table.keyPath(key), "expected one of \(allowed), found \(text.debugDescription)")
            return nil
        }
        return parsed
    }

    private func enumValue<E: RawRepresentable & CaseIterable>(_ table: TableReader, _ key: String, default value: E) -> E where E.RawValue == String {
        enumValue(table, key) ?? value
    }

    private func address(_ table: TableReader, _ key: String, default value: String) -> SocketAddress? {
        let text = table.string(key) ?? value
        guard let parsed = ConfigValues.listenAddress(text) else {
            table.issues.add(table.keyPath(key), "expected \(ConfigValues.addressExpectation), found \(text.debugDescription)")
            return nil
        }
        return parsed
    }

    private func duration(_ table: TableReader, _ key: String, default value: TimeInterval) -> TimeInterval {
        guard let text = table.string(key) else { return value }
        guard let parsed = ConfigValues.duration(text), parsed > 0 else {
            table.issues.add(table.keyPath(key), "expected \(ConfigValues.durationExpectation), found \(text.debugDescription)")
            return value
        }
        // A bound keeps every timer and every "N s" in a reply representable (no overflow trap).
        guard parsed <= Self.longestDuration else {
            table.issues.add(table.keyPath(key), "expected a duration of at most 365 days, found \(text.debugDescription)")
            return value
        }
        return parsed
    }

    /// A duration where "0s" (or "0") turns the feature off (caches).
    private func durationOrOff(_ table: TableReader, _ key: String, default value: TimeInterval) -> TimeInterval {
        if let text = table.string(key), ConfigValues.duration(text) == 0 { return 0 }
        return duration(table, key, default: value)
    }

    private func size(_ table: TableReader, _ key: String, default value: UInt64, in range: ClosedRange<UInt64>, rangeText: String) -> UInt64 {
        guard let text = table.string(key) else { return value }
        guard let parsed = ConfigValues.size(text) else {
            table.issues.add(table.keyPath(key), "expected \(ConfigValues.sizeExpectation), found \(text.debugDescription)")
            return value
        }
        guard range.contains(parsed) else {
            table.issues.add(table.keyPath(key), "expected a size from \(rangeText), found \(text.debugDescription)")
            return value
        }
        return parsed
    }

    private func readableFile(_ table: TableReader, _ key: String, _ path: String, keyPath: String? = nil) {
        guard checkFiles else { return }
        if !FileManager.default.isReadableFile(atPath: path) {
            table.issues.add(keyPath ?? table.keyPath(key), "cannot read the file \(path.debugDescription)")
        }
    }

    private func readTLS(_ table: TableReader, tlsWarnings: inout [String]) -> FerryConfig.TLS? {
        defer { table.rejectUnknownKeys() }
        let certificate = table.string("certificate")
        let privateKey = table.string("private_key")
        let minVersion = enumValue(table, "min_version", default: TLSContext.MinimumVersion.tls12)
        let ciphers = table.string("ciphers")
        guard let certificate, let privateKey else {
            if certificate == nil { table.issues.add(table.keyPath("certificate"), "missing: the certificate chain file (PEM)") }
            if privateKey == nil { table.issues.add(table.keyPath("private_key"), "missing: the private key file (PEM)") }
            return nil
        }
        readableFile(table, "certificate", certificate)
        readableFile(table, "private_key", privateKey)
        if checkFiles && FileManager.default.isReadableFile(atPath: certificate) && FileManager.default.isReadableFile(atPath: privateKey) {
            // Load them now, so that a key that does not match, a bad PEM or a bad cipher list is a
            // configuration error rather than a failure at the first AUTH TLS.
            do {
                _ = try TLSContext(certificate: certificate, privateKey: privateKey,
                                   minimumVersion: minVersion, ciphers: ciphers)
                if TLSContext.certificateExpired(certificate) {
                    tlsWarnings.append("\(table.keyPath("certificate")): the certificate \(certificate) has expired")
                }
            } catch {
                // Name the file that is wrong: the certificate when it did not load, else the key.
                let key = error.operation.hasPrefix("cannot load the certificate") ? "certificate" : "private_key"
                table.issues.add(table.keyPath(key), error.description)
            }
        }
        return FerryConfig.TLS(certificate: certificate, privateKey: privateKey, minVersion: minVersion, ciphers: ciphers)
    }

    private func readFTP(_ table: TableReader, tlsConfigured: Bool) -> FerryConfig.FTP {
        defer { table.rejectUnknownKeys() }
        let listen = address(table, "listen", default: "0.0.0.0:2121")
        var passive: ClosedRange<UInt16>?
        if let text = table.string("passive_ports"), !text.isEmpty {
            passive = ConfigValues.portRange(text)
            if passive == nil {
                table.issues.add(table.keyPath("passive_ports"), "expected \(ConfigValues.portRangeExpectation), found \(text.debugDescription)")
            }
        }
        let masqueradeText = table.string("masquerade_address") ?? ""
        let masquerade = masqueradeText.isEmpty ? nil : passiveAddress(table, "masquerade_address", masqueradeText)
        var overrides: [PassiveAddressOverride] = []
        for entry in table.tableArray("passive_address_overrides") {
            if !entry.has("networks") {
                entry.issues.add(entry.keyPath("networks"), "missing: the client networks this address is for, e.g. [\"10.0.0.0/8\"]")
            }
            let networks = self.networks(entry, "networks", nonEmpty: true)
            let text = entry.string("address")
            if text == nil { entry.issues.add(entry.keyPath("address"), "missing: the IPv4 address or host name to announce") }
            if let text, let address = passiveAddress(entry, "address", text) {
                overrides.append(PassiveAddressOverride(networks: networks, address: address))
            }
            entry.rejectUnknownKeys()
        }
        let tls = enumValue(table, "tls", default: tlsConfigured ? FTPTLSSettings.Policy.optional : .off)
        if tls != .off && !tlsConfigured {
            table.issues.add(table.keyPath("tls"), "\(tls.rawValue.debugDescription) needs a [tls] section with certificate and private_key")
        }
        let reuse = enumValue(table, "tls_session_reuse", default: FTPTLSSettings.SessionReuse.required)
        let active = table.bool("active_mode") ?? true
        let implicitListen = address(table, "implicit_tls_listen", default: "")
        if implicitListen != nil && !tlsConfigured {
            table.issues.add(table.keyPath("implicit_tls_listen"), "needs a [tls] section with certificate and private_key")
        }
        return FerryConfig.FTP(listen: listen, passivePorts: passive, masqueradeAddress: masquerade, masqueradeText: masqueradeText,
                               passiveAddressOverrides: overrides, tls: tls,
                               tlsSessionReuse: reuse, activeMode: active, implicitTLSListen: implicitListen)
    }

    private func readSFTP(_ table: TableReader) -> FerryConfig.SFTP {
        defer { table.rejectUnknownKeys() }
        let listen = address(table, "listen", default: "0.0.0.0:2222")
        let keys = table.stringArray("host_keys") ?? []
        if listen != nil && keys.isEmpty {
            table.issues.add(table.keyPath("host_keys"), "at least one host key file is needed to serve SFTP")
        }
        var usable: [String] = []
        for (index, key) in keys.enumerated() {
            let keyPath = "\(table.keyPath("host_keys"))[\(index + 1)]"
            readableFile(table, "host_keys", key, keyPath: keyPath)
            // Load it now, so that a file libssh cannot use (or a second key of one type) is a
            // configuration error, not a failed start.
            if checkFiles && FileManager.default.isReadableFile(atPath: key) {
                do {
                    _ = try SSHHostKeys(paths: usable + [key])
                    usable.append(key)
                } catch {
                    table.issues.add(keyPath, error.description)
                }
            }
        }
        let window = size(table, "reorder_window", default: 4 << 20, in: (64 << 10)...(256 << 20), rangeText: "64KiB to 256MiB")
        let ciphers = table.stringArray("ciphers")
        if let ciphers {
            let unsupported = SSHCiphers.unsupported(ciphers)
            if ciphers.isEmpty {
                table.issues.add(table.keyPath("ciphers"), "name at least one cipher, or leave the key out for the defaults")
            } else if !unsupported.isEmpty {
                table.issues.add(table.keyPath("ciphers"), "not a cipher Ferry offers (unknown to this SSH library, or weak: CBC, 3DES): \(unsupported.joined(separator: ", "))"
                                 + " (e.g. aes128-gcm@openssh.com, aes256-gcm@openssh.com, chacha20-poly1305@openssh.com, aes128-ctr)")
            }
        }
        var sftp = FerryConfig.SFTP(listen: listen, hostKeys: keys, reorderWindow: window, ciphers: ciphers)
        sftp.maxSessionsPerConnection = table.integer("max_sessions_per_connection", in: 1...1000) ?? sftp.maxSessionsPerConnection
        return sftp
    }

    private func readLimits(_ table: TableReader) -> FerryConfig.Limits {
        defer { table.rejectUnknownKeys() }
        var limits = FerryConfig.Limits()
        limits.maxConnections = table.integer("max_connections", in: 1...1_000_000) ?? limits.maxConnections
        limits.maxConnectionsPerIP = table.integer("max_connections_per_ip", in: 1...1_000_000) ?? limits.maxConnectionsPerIP
        limits.idleTimeout = duration(table, "idle_timeout", default: limits.idleTimeout)
        limits.maxLoginFailures = table.integer("max_login_failures", in: 0...1_000_000) ?? limits.maxLoginFailures
        limits.banTime = duration(table, "ban_time", default: limits.banTime)
        limits.loginTimeout = duration(table, "login_timeout", default: limits.loginTimeout)
        limits.tlsHandshakeTimeout = duration(table, "tls_handshake_timeout", default: limits.tlsHandshakeTimeout)
        limits.dataConnectionTimeout = duration(table, "data_connection_timeout", default: limits.dataConnectionTimeout)
        limits.loginCache = durationOrOff(table, "login_cache", default: limits.loginCache)
        limits.directoryCache = durationOrOff(table, "directory_cache", default: limits.directoryCache)
        limits.transferMemory = size(table, "transfer_memory", default: limits.transferMemory,
                                     in: (16 << 20)...(1 << 40), rangeText: "16MiB to 1TiB")
        limits.shutdownGrace = durationOrOff(table, "shutdown_grace", default: limits.shutdownGrace)
        limits.maxHashSize = size(table, "max_hash_size", default: limits.maxHashSize, in: 0...(5 << 40), rangeText: "0 to 5TiB")
        return limits
    }

    private func readProxyProtocol(_ table: TableReader) -> FerryConfig.ProxyProtocolGroups {
        defer { table.rejectUnknownKeys() }
        var common = ProxyProtocolPolicy()
        common.trustedSources = networks(table, "from")
        common.headerTimeout = duration(table, "header_timeout", default: common.headerTimeout)
        var groups = FerryConfig.ProxyProtocolGroups(ftp: common, sftp: common)
        if table.has("ftp_from") { groups.ftp.trustedSources = networks(table, "ftp_from") }
        if table.has("sftp_from") { groups.sftp.trustedSources = networks(table, "sftp_from") }
        return groups
    }

    /// An address PASV announces: numeric IPv4, or a host name resolved now (at start and at each
    /// reload) to its first IPv4 address.
    private func passiveAddress(_ table: TableReader, _ key: String, _ text: String) -> SocketAddress? {
        if let numeric = SocketAddress(host: text, port: 0) {
            guard numeric.family == .ipv4 else {
                table.issues.add(table.keyPath(key), "expected an IPv4 address or host name (PASV announces IPv4 only), found \(text.debugDescription)")
                return nil
            }
            return numeric
        }
        guard resolveNames else { return SocketAddress(host: "0.0.0.0", port: 0) }
        guard let resolved = SocketAddress.resolveIPv4(text) else {
            table.issues.add(table.keyPath(key), "the host name \(text.debugDescription) has no IPv4 address")
            return nil
        }
        return resolved
    }

    /// A list of networks in CIDR form (a bare address is one host).
    private func networks(_ table: TableReader, _ key: String, nonEmpty: Bool = false) -> [NetworkRange] {
        var result: [NetworkRange] = []
        let texts = table.stringArray(key) ?? []
        if nonEmpty && texts.isEmpty && table.has(key) {
            table.issues.add(table.keyPath(key), "expected at least one network")
        }
        for (index, text) in texts.enumerated() {
            if let network = NetworkRange(parsing: text) {
                result.append(network)
            } else {
                table.issues.add("\(table.keyPath(key))[\(index + 1)]",
                                 "expected a network such as \"10.0.0.0/8\", \"192.0.2.7\" or \"fd00::/8\" (no host bits set), found \(text.debugDescription)")
            }
        }
        return result
    }

    private func readLog(_ table: TableReader) -> FerryConfig.Log {
        defer { table.rejectUnknownKeys() }
        var log = FerryConfig.Log()
        if let text = table.string("level") {
            if let level = Logger.Level(rawValue: text.lowercased()) {
                log.level = level
            } else {
                table.issues.add(table.keyPath("level"), "expected one of trace | debug | info | notice | warning | error | critical, found \(text.debugDescription)")
            }
        }
        log.format = enumValue(table, "format", default: FerryConfig.Log.Format.text)
        log.transferLog = table.string("transfer_log") ?? log.transferLog
        return log
    }

    private func readMetrics(_ table: TableReader) -> FerryConfig.Metrics {
        defer { table.rejectUnknownKeys() }
        return FerryConfig.Metrics(listen: address(table, "listen", default: "127.0.0.1:9464"))
    }

    private func readAuth(_ table: TableReader) -> FerryConfig.Auth {
        defer { table.rejectUnknownKeys() }
        var auth = FerryConfig.Auth()
        if let url = table.string("http"), !url.isEmpty {
            if let parsed = URLComponents(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
               !(parsed.host ?? "").isEmpty {
                auth.http = url
            } else {
                table.issues.add(table.keyPath("http"), "expected an http:// or https:// URL, found \(url.debugDescription)")
            }
        }
        auth.timeout = duration(table, "timeout", default: auth.timeout)
        if auth.timeout <= 0 || auth.timeout > 60 {
            table.issues.add(table.keyPath("timeout"), "expected a duration from 1ms to 60s (a login waits for the service)")
        }
        auth.cacheTTL = durationOrOff(table, "cache_ttl", default: auth.cacheTTL)
        auth.fileUsersFirst = table.bool("file_users_first") ?? auth.fileUsersFirst
        if let caFile = table.string("ca_file"), !caFile.isEmpty {
            readableFile(table, "ca_file", caFile)
            auth.caFile = caFile
        }
        return auth
    }

    // MARK: Storages

    private func readStorages(_ tables: [TableReader], issues: ConfigIssues, warnings: inout [String]) -> [FerryConfig.Storage] {
        var storages: [FerryConfig.Storage] = []
        var seen: Set<String> = []
        for table in tables {
            let name = table.string("name")
            let driver = table.string("driver")
            if name == nil { issues.add(table.keyPath("name"), "missing: a name for the storage, used in homes as \"name:bucket\"") }
            if let name {
                if !ConfigValues.isValidName(name, maxLength: 32) {
                    issues.add(table.keyPath("name"), "expected a short name without spaces, colons or slashes, found \(name.debugDescription)")
                } else if !seen.insert(name).inserted {
                    issues.add(table.keyPath("name"), "duplicate storage name \(name.debugDescription)")
                }
            }
            var result: FerryConfig.Storage.Driver?
            let abandonedAge = durationOrOff(table, "abandoned_upload_age", default: FerryConfig.Storage.defaultAbandonedUploadAge)
            switch driver {
            case "s3":
                result = readS3(table, warnings: &warnings).map { .s3($0) }
                table.rejectUnknownKeys(context: "an s3 storage")
            case "local":
                let root = table.string("root")
                if root == nil || root!.isEmpty { issues.add(table.keyPath("root"), "missing: the directory that holds the buckets") }
                result = root.map { .local(root: $0) }
                table.rejectUnknownKeys(context: "a local storage")
            case nil:
                issues.add(table.keyPath("driver"), "missing: expected \"s3\" or \"local\"")
            case let other?:
                issues.add(table.keyPath("driver"), "expected \"s3\" or \"local\", found \(other.debugDescription)")
            }
            if let name, let result {
                storages.append(FerryConfig.Storage(name: name, driver: result, abandonedUploadAge: abandonedAge))
            }
        }
        return storages
    }

    private func secret(_ table: TableReader, _ key: String) -> Secret? {
        guard let text = table.string(key) else { return nil }
        switch Secret.resolve(text, environment: environment) {
        case .success(let secret):
            return secret
        case .failure(.unsetVariable(let name)):
            table.issues.add(table.keyPath(key), "the environment variable \(name) is not set")
        case .failure(.unreadableFile(let path)):
            table.issues.add(table.keyPath(key), "cannot read the secret file \(path.debugDescription)")
        case .failure(.empty):
            table.issues.add(table.keyPath(key), "is empty")
        }
        return nil
    }

    private func readS3(_ table: TableReader, warnings: inout [String]) -> FerryConfig.S3Storage? {
        let endpoint = table.string("endpoint")
        let region = table.string("region") ?? "us-east-1"
        var accessKey = secret(table, "access_key")
        var secretKey = secret(table, "secret_key")
        var sessionToken = secret(table, "session_token")
        let hasAccessKey = table.has("access_key")
        if !hasAccessKey && !table.has("secret_key") {
            // The standard AWS variables, as every S3 tool reads them.
            accessKey = environment["AWS_ACCESS_KEY_ID"].map { Secret(source: "env:AWS_ACCESS_KEY_ID", value: $0) }
            secretKey = environment["AWS_SECRET_ACCESS_KEY"].map { Secret(source: "env:AWS_SECRET_ACCESS_KEY", value: $0) }
            if sessionToken == nil {
                sessionToken = environment["AWS_SESSION_TOKEN"].map { Secret(source: "env:AWS_SESSION_TOKEN", value: $0) }
            }
            if accessKey == nil || secretKey == nil {
                table.issues.add(table.keyPath("access_key"), "missing, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not both set")
            }
        } else if hasAccessKey != table.has("secret_key") {
            table.issues.add(table.keyPath(hasAccessKey ? "secret_key" : "access_key"), "missing: access_key and secret_key go together")
        }
        var addressing: S3Addressing? = enumValue(table, "addressing")
        let partSize = size(table, "part_size", default: 16 << 20, in: (5 << 20)...(5 << 30), rangeText: "5MiB to 5GiB")
        let concurrency = table.integer("upload_concurrency", in: 1...64) ?? 4
        // Default: what fits in S3's 10,000 parts at part_size, so that part_size is never raised silently.
        let maxObject = size(table, "max_object_size", default: partSize * 10_000, in: 1...(5 << 40), rangeText: "1 byte to 5TiB")
        let caFile = table.string("ca_file")
        if let caFile { readableFile(table, "ca_file", caFile) }
        guard let endpoint else {
            table.issues.add(table.keyPath("endpoint"), "missing: the S3 endpoint URL, e.g. \"https://s3.eu-west-1.amazonaws.com\"")
            return nil
        }
        guard let url = URL(string: endpoint), let scheme = url.scheme, ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            table.issues.add(table.keyPath("endpoint"), "expected an http:// or https:// URL, found \(endpoint.debugDescription)")
            return nil
        }
        let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
        if scheme == "http" && !loopback {
            warnings.append("\(table.keyPath("endpoint")): plain http to \(host): object data travels unencrypted (use https)")
        }
        if addressing == nil {
            // Path style for IP addresses and localhost (test servers), virtual-hosted otherwise.
            addressing = SocketAddress(host: host, port: 0) != nil || host == "localhost" ? .path : .virtualHosted
        }
        var storage = FerryConfig.S3Storage(endpoint: endpoint, region: region, accessKey: accessKey, secretKey: secretKey,
                                            sessionToken: sessionToken, addressing: addressing ?? .virtualHosted,
                                            partSize: partSize, uploadConcurrency: concurrency, maxObjectSize: maxObject, caFile: caFile)
        storage.listingTimes = enumValue(table, "listing_times", default: storage.listingTimes)
        storage.conditionalWrites = table.bool("conditional_writes") ?? storage.conditionalWrites
        return storage
    }

    // MARK: Users

    private func binding(_ table: TableReader, _ key: String, storages: [FerryConfig.Storage]) -> StorageBinding? {
        guard let text = table.string(key) else {
            table.issues.add(table.keyPath(key), "missing: expected \"storage:bucket[/prefix]\"")
            return nil
        }
        guard let binding = StorageBinding(parsing: text) else {
            table.issues.add(table.keyPath(key), "expected \"storage:bucket[/prefix]\" (no empty, . or .. parts), found \(text.debugDescription)")
            return nil
        }
        guard storages.contains(where: { $0.name == binding.storage }) else {
            let names = storages.map { $0.name }.joined(separator: ", ")
            table.issues.add(table.keyPath(key), "unknown storage \(binding.storage.debugDescription) (configured: \(names.isEmpty ? "none" : names))")
            return nil
        }
        guard ConfigValues.isValidBucketName(binding.bucket) else {
            table.issues.add(table.keyPath(key), "\(binding.bucket.debugDescription) is not a valid bucket name (3-63 characters of a-z, 0-9, '.' and '-')")
            return nil
        }
        return binding
    }

    private func authority(_ table: TableReader, default value: Authority) -> Authority {
        guard let text = table.string("authority") else { return value }
        guard let parsed = Authority(configValue: text) else {
            table.issues.add(table.keyPath("authority"), "expected one of RO, WO, RW (or R, W), found \(text.debugDescription)")
            return value
        }
        return parsed
    }

    private func readUsers(_ tables: [TableReader], storages: [FerryConfig.Storage], issues: ConfigIssues,
                           warnings: inout [String]) -> [User] {
        var users: [User] = []
        var seen: Set<String> = []
        for table in tables {
            if let name = table.string("name"), ConfigValues.isValidName(name), !seen.insert(name).inserted {
                issues.add(table.keyPath("name"), "duplicate user name \(name.debugDescription)")
            }
            if let user = readUser(table, storages: storages, warnings: &warnings) { users.append(user) }
        }
        return users
    }

    /// One `[[user]]` table, or (`fromIdentityService`) the user an identity service answered with:
    /// the same keys and checks, except that the service vouches for the credential, so its answer
    /// carries none (`password`, `password_hash` and `ssh_keys` are unknown keys there) and its name
    /// must be the one that logged in. Nil when the table has mistakes (reported in its issues).
    func readUser(_ table: TableReader, storages: [FerryConfig.Storage], fromIdentityService loginName: String? = nil,
                  warnings: inout [String]) -> User? {
        let issues = table.issues
        let name = table.string("name") ?? loginName
        if let name {
            if !ConfigValues.isValidName(name) {
                issues.add(table.keyPath("name"), "expected a user name of up to 64 characters without spaces, colons or slashes, found \(name.debugDescription)")
            } else if let loginName, name != loginName {
                issues.add(table.keyPath("name"), "the answer is about \(name.debugDescription), not \(loginName.debugDescription) who logged in")
            }
        } else {
            issues.add(table.keyPath("name"), "missing: the login name")
        }
        var hash: PasswordHash?
        var keys: [SSHPublicKey] = []
        if loginName == nil {
            if let text = table.string("password_hash") {
                hash = PasswordHash(hash: text)
                if hash == nil {
                    issues.add(table.keyPath("password_hash"), "not a supported crypt(3) hash (expected $y$ yescrypt, $6$ sha512-crypt, $5$ sha256-crypt or $2b$ bcrypt; make one with `ferry hash-password`)")
                }
            }
            if let plain = table.string("password") {
                if table.has("password_hash") {
                    issues.add(table.keyPath("password"), "set password_hash or password, not both")
                } else if plain.isEmpty {
                    issues.add(table.keyPath("password"), "is empty")
                } else {
                    hash = PasswordHash(plain: plain)
                    warnings.append("\(table.keyPath("password")): a plain-text password; replace it with password_hash from `ferry hash-password`")
                }
            }
            for (index, line) in (table.stringArray("ssh_keys") ?? []).enumerated() {
                do {
                    keys.append(try SSHPublicKey(parsing: line))
                } catch {
                    issues.add("\(table.keyPath("ssh_keys"))[\(index + 1)]", error.description)
                }
            }
            if !table.has("password_hash") && !table.has("password") && !table.has("ssh_keys") {
                issues.add(table.path, "has no password_hash, password or ssh_keys: nobody could log in as this user")
            }
        }
        let home = binding(table, "home", storages: storages)
        let userAuthority = authority(table, default: .readOnly)
        let mayDelete = table.bool("delete") ?? true
        let maxSessions = table.integer("max_sessions", in: 0...1_000_000) ?? 0
        let folders = readFolders(table.tableArray("folder"), storages: storages, authority: userAuthority,
                                  mayDelete: mayDelete, issues: issues)
        table.rejectUnknownKeys(context: loginName == nil ? nil : "an identity service's answer")
        guard let name, let home, issues.all.isEmpty || loginName == nil else { return nil }
        return User(name: name, passwordHash: hash, sshKeys: keys, home: home, authority: userAuthority,
                    mayDelete: mayDelete, folders: folders, maxSessions: maxSessions)
    }

    private func readFolders(_ tables: [TableReader], storages: [FerryConfig.Storage], authority userAuthority: Authority,
                             mayDelete: Bool, issues: ConfigIssues) -> [FolderBinding] {
        var folders: [(VirtualPath, FolderBinding, String)] = []
        for table in tables {
            var path: VirtualPath?
            if let text = table.string("path") {
                if !text.hasPrefix("/") {
                    issues.add(table.keyPath("path"), "expected an absolute path such as \"/shared\", found \(text.debugDescription)")
                } else if let resolved = try? VirtualPath.resolve(text), !resolved.isRoot {
                    path = resolved
                } else {
                    issues.add(table.keyPath("path"), "expected a folder below \"/\", found \(text.debugDescription)")
                }
            } else {
                issues.add(table.keyPath("path"), "missing: the folder's path in the user's tree, e.g. \"/shared\"")
            }
            let target = binding(table, "target", storages: storages)
            let folderAuthority = authority(table, default: userAuthority)
            let folderDelete = table.bool("delete") ?? mayDelete
            table.rejectUnknownKeys()
            guard let path, let target else { continue }
            for (otherPath, _, otherKeyPath) in folders where path.isInside(otherPath) || otherPath.isInside(path) {
                issues.add(table.keyPath("path"), "\(path) overlaps \(otherPath) of \(otherKeyPath)")
            }
            folders.append((path, FolderBinding(path: path.description, target: target, authority: folderAuthority,
                                                mayDelete: folderDelete), table.path))
        }
        return folders.map { $0.1 }
    }
}
