#if canImport(Glibc)
import Glibc
#endif
import Auth
import Foundation
import Locking
import Logging
import Protocols
import Storage
import Synchronization

/// Runs the configured listeners: one accept thread per listener, one thread per connection
/// (design.md §2), connection limits and bans checked before a connection gets its thread.
///
/// What a configuration reload replaces lives in `Runtime` (storages, the FTP and SSH contexts with
/// their TLS context and host keys, the configuration itself): a new connection takes the runtime in
/// force when it arrives, a connection in progress keeps its own. Users are replaced inside the one
/// `UserDirectory`, so sessions in progress see their user's changes (`Session.refreshUser`).
/// Listeners, the transfer log, the memory budget and the log format stay as they were at start.
final class Server: Sendable {
    let logger: Logger
    let observer: GatewayObserver
    let limiter: ConnectionLimiter
    /// At most this many GET /metrics or /healthz requests are served at once.
    let metricsLimiter = ConnectionLimiter(maxTotal: 8, maxPerAddress: 8)
    let users: UserDirectory
    /// The configuration the listeners were opened with.
    let startConfig: FerryConfig
    let memory: TransferMemory
    let partWorkers: WorkerPool
    private let runtime: Locked<Runtime>
    private let stopping = Atomic<Bool>(false)
    private let stopNowRequested = Atomic<Bool>(false)
    /// Connections from a balancer whose PROXY header is still being read.
    private let pendingHeaders = Atomic<Int>(0)
    let shutdown = ShutdownSignal()
    /// The storages in force, for sessions that a reload moves to them.
    let liveStorages: LiveStorages

    /// Everything a reload builds anew and swaps in at once.
    struct Runtime: Sendable {
        var config: FerryConfig
        var storages: StorageRegistry
        var ftp: FTPServerContext?
        var ssh: SSHServerContext?
    }

    /// What a listener serves; its raw value names it in logs and thread names.
    enum Service: String {
        case ftp
        case implicitFTPS = "ftps-implicit"
        case sftp
        case metrics
    }

    enum StartupError: Error, CustomStringConvertible {
        case storage(name: String, reason: String)
        case listen(address: SocketAddress, reason: String)
        case tls(reason: String)
        case ssh(reason: String)

        var description: String {
            switch self {
            case .tls(let reason): "TLS: \(reason)"
            case .ssh(let reason): "SSH: \(reason)"
            case .storage(let name, let reason): "storage \(name.debugDescription): \(reason)"
            case .listen(let address, let reason): "cannot listen on \(address): \(reason)"
            }
        }
    }

    init(config: FerryConfig, logger: Logger) throws(StartupError) {
        self.startConfig = config
        self.logger = logger
        let memory = TransferMemory(limit: Int(clamping: config.limits.transferMemory), maximumWait: config.limits.idleTimeout)
        self.memory = memory
        // Part uploads of every S3 storage share one pool, as large as the budget can keep busy.
        let smallestPart = config.storages.compactMap { storage -> UInt64? in
            if case .s3(let s3) = storage.driver { return s3.partSize } else { return nil }
        }.min() ?? (16 << 20)
        self.partWorkers = WorkerPool(name: "s3-part", maxThreads: Int(min(64, max(2, config.limits.transferMemory / smallestPart))))
        self.observer = GatewayObserver(transferLogPath: config.log.transferLog, transferMemory: memory, logger: logger)
        self.limiter = ConnectionLimiter(maxTotal: config.limits.maxConnections, maxPerAddress: config.limits.maxConnectionsPerIP)
        let defender = LoginDefender(maxFailures: config.limits.maxLoginFailures, banTime: config.limits.banTime)
        self.users = UserDirectory(users: [], defender: defender, logger: logger)
        users.replace(with: Self.userDefinition(config, logger: logger))
        let storages = try Self.makeStorages(config, memory: memory, workers: partWorkers, logger: logger)
        self.liveStorages = LiveStorages(storages)
        let (ftp, ssh) = try Self.makeContexts(config, users: users, storages: storages, observer: observer,
                                               logger: logger, shutdown: shutdown, liveStorages: liveStorages)
        self.runtime = Locked(Runtime(config: config, storages: storages, ftp: ftp, ssh: ssh))
    }

    /// The configuration in force (the start's, or the last reload's).
    var config: FerryConfig { runtime.withLock { $0.config } }

    var currentRuntime: Runtime { runtime.withLock { $0 } }

    /// Puts a reload's runtime in force for connections from now on.
    func replaceRuntime(_ new: Runtime) { runtime.withLock { $0 = new } }

    /// The users, the identity service and the caches of one configuration.
    static func userDefinition(_ config: FerryConfig, logger: Logger) -> UserDirectory.Definition {
        let identity = config.auth.http.map { url in
            HTTPIdentityService(auth: config.auth, url: url, storages: config.storages, logger: logger)
        }
        return UserDirectory.Definition(users: config.users, identity: identity, fileUsersFirst: config.auth.fileUsersFirst,
                                        loginCache: VerifiedLoginCache(lifetime: config.limits.loginCache),
                                        identityCache: IdentityAnswerCache(lifetime: config.auth.cacheTTL))
    }

    /// Opens every storage; local buckets named by a home or folder are created if missing.
    static func makeStorages(_ config: FerryConfig, memory: TransferMemory, workers: WorkerPool,
                                     logger: Logger) throws(StartupError) -> StorageRegistry {
        var drivers: [String: any StorageDriver] = [:]
        for storage in config.storages {
            switch storage.driver {
            case .local(let root):
                do {
                    let driver = try LocalDirectoryDriver(root: root, staleUploadAge: storage.abandonedUploadAge)
                    let bindings = config.users.flatMap { [$0.home] + $0.folders.map(\.target) }
                    for binding in bindings where binding.storage == storage.name {
                        try driver.ensureBucket(binding.bucket)
                    }
                    drivers[storage.name] = driver
                } catch {
                    throw .storage(name: storage.name, reason: error.description)
                }
            case .s3(let s3):
                var settings = S3Settings(endpoint: s3.endpoint, region: s3.region, accessKey: s3.accessKey?.value ?? "",
                                          secretKey: s3.secretKey?.value ?? "", sessionToken: s3.sessionToken?.value,
                                          addressing: s3.addressing, caFile: s3.caFile, partSize: s3.partSize,
                                          uploadConcurrency: s3.uploadConcurrency, maxObjectSize: s3.maxObjectSize,
                                          transferMemory: memory, partWorkers: workers)
                settings.listingTimes = s3.listingTimes
                settings.conditionalWrites = s3.conditionalWrites
                var storageLogger = logger
                storageLogger[metadataKey: "storage"] = "\(storage.name)"
                do {
                    drivers[storage.name] = try S3Driver(settings: settings, logger: storageLogger)
                } catch {
                    throw .storage(name: storage.name, reason: error.description)
                }
                if settings.effectivePartSize > config.limits.transferMemory {
                    logger.warning("part_size is larger than [limits] transfer_memory: uploads to this storage run one at a time",
                                   metadata: ["storage": "\(storage.name)", "part_size": "\(settings.effectivePartSize)"])
                }
                if settings.effectivePartSize != s3.partSize {
                    logger.info("part_size raised so that max_object_size fits in 10,000 parts",
                                metadata: ["storage": "\(storage.name)", "part_size": "\(settings.effectivePartSize)"])
                }
            }
        }
        return StorageRegistry(drivers, directoryCacheLifetime: config.limits.directoryCache,
                               maxHashSize: config.limits.maxHashSize)
    }

    /// The FTP and SSH contexts of a configuration: settings, the TLS context (certificate and key
    /// loaded now) and the SSH host keys (loaded now).
    static func makeContexts(_ config: FerryConfig, users: UserDirectory, storages: StorageRegistry,
                                     observer: GatewayObserver, logger: Logger, shutdown: ShutdownSignal,
                                     liveStorages: LiveStorages) throws(StartupError) -> (FTPServerContext?, SSHServerContext?) {
        var ftpContext: FTPServerContext?
        if let ftp = config.ftp {
            var settings = FTPSettings(passivePorts: ftp.passivePorts, masqueradeAddress: ftp.masqueradeAddress,
                                       activeModeEnabled: ftp.activeMode, idleTimeout: config.limits.idleTimeout,
                                       dataTimeout: config.limits.dataConnectionTimeout, loginTimeout: config.limits.loginTimeout,
                                       tlsHandshakeTimeout: config.limits.tlsHandshakeTimeout)
            settings.proxyProtocol = config.proxyProtocol.ftp
            settings.passiveAddressOverrides = ftp.passiveAddressOverrides
            if let tls = config.tls, ftp.tls != .off || ftp.implicitTLSListen != nil {
                let context: TLSContext
                do {
                    context = try TLSContext(certificate: tls.certificate, privateKey: tls.privateKey,
                                             minimumVersion: tls.minVersion, ciphers: tls.ciphers)
                } catch {
                    throw .tls(reason: error.description)
                }
                settings.tls = FTPTLSSettings(context: context, policy: ftp.tls, sessionReuse: ftp.tlsSessionReuse)
            }
            var ftpLogger = logger
            ftpLogger[metadataKey: "protocol"] = "ftp"
            ftpContext = FTPServerContext(settings: settings, users: users, storages: storages, observer: observer,
                                          logger: ftpLogger, shutdown: shutdown)
            ftpContext?.liveStorages = liveStorages
        }
        var sshContext: SSHServerContext?
        if let sftp = config.sftp, sftp.listen != nil {
            let hostKeys: SSHHostKeys
            do {
                hostKeys = try SSHHostKeys(paths: sftp.hostKeys)
                if let ciphers = sftp.ciphers { try hostKeys.restrictCiphers(to: ciphers) }
            } catch {
                throw .ssh(reason: error.description)
            }
            var sftpLogger = logger
            sftpLogger[metadataKey: "protocol"] = "sftp"
            let settings = SFTPSettings(reorderWindow: Int(sftp.reorderWindow), idleTimeout: config.limits.idleTimeout,
                                        loginGraceTime: config.limits.loginTimeout,
                                        maxSessionsPerConnection: sftp.maxSessionsPerConnection)
            sshContext = SSHServerContext(settings: settings, hostKeys: hostKeys, users: users, storages: storages,
                                          observer: observer, logger: sftpLogger, shutdown: shutdown)
            sshContext?.liveStorages = liveStorages
        }
        return (ftpContext, sshContext)
    }

    // MARK: Listeners

    func start() throws(StartupError) {
        signal(SIGPIPE, SIG_IGN)
        let config = startConfig
        if let ftp = config.ftp {
            if let address = ftp.listen {
                try listen(on: address, service: .ftp) { [self] socket, client in
                    guard let context = runtime.withLock({ $0.ftp }) else { return }
                    FTPConnection(socket: socket, client: client, context: context)?.run()
                }
            }
            if let address = ftp.implicitTLSListen {
                try listen(on: address, service: .implicitFTPS) { [self] socket, client in
                    guard let context = runtime.withLock({ $0.ftp }) else { return }
                    FTPConnection(socket: socket, client: client, context: context, implicitTLS: true)?.run()
                }
            }
        }
        if let sftp = config.sftp, let address = sftp.listen {
            for fingerprint in runtime.withLock({ $0.ssh?.hostKeys.fingerprints ?? [] }) {
                logger.info("SSH host key", metadata: ["key": "\(fingerprint)"])
            }
            try listen(on: address, service: .sftp) { [self] socket, client in
                guard let context = runtime.withLock({ $0.ssh }) else { return }
                SSHConnection(socket: socket, client: client, context: context)?.run()
            }
        }
        if let address = config.metrics.listen {
            let endpoint = MetricsEndpoint(observer: observer, logger: logger, shutdown: shutdown)
            try listen(on: address, service: .metrics) { socket, _ in endpoint.serve(socket) }
        }
    }

    /// Opens a listener and starts its accept thread. Each accepted connection is checked against
    /// bans and limits (the metrics listener against `metricsLimiter` only), then served on its own
    /// thread by `handler`.
    private func listen(on address: SocketAddress, service: Service,
                        handler: @escaping @Sendable (Socket, SocketAddress) -> Void) throws(StartupError) {
        let socket: Socket
        do {
            socket = try Socket.listen(on: address)
        } catch {
            throw .listen(address: address, reason: error.description)
        }
        logger.info("listening", metadata: ["service": "\(service.rawValue)", "address": "\(address)"])
        let thread = Thread { [self] in acceptLoop(socket, service: service, handler: handler) }
        thread.name = "accept-\(service.rawValue)"
        thread.start()
    }

    private func acceptLoop(_ listener: Socket, service: Service, handler: @escaping @Sendable (Socket, SocketAddress) -> Void) {
        let name = service.rawValue
        // A stop closes the session listeners at once (a balancer's next connection is refused and
        // goes elsewhere); the metrics listener stays, to answer /healthz with 503 until the end.
        defer { listener.close() }
        while service == .metrics || !stopping.load(ordering: .relaxed) {
            let accepted: Socket?
            do {
                accepted = try listener.accept(timeout: 0.5)
            } catch {
                if stopping.load(ordering: .relaxed) { return }
                logger.error("accept failed", metadata: ["service": "\(name)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.1)  // e.g. EMFILE: do not spin
                continue
            }
            guard let connection = accepted, let peer = connection.remoteAddress else { continue }
            guard service != .metrics else {
                // The metrics listener: a handful of scrapers at once, never a thread per flood.
                let metricsLimiter = self.metricsLimiter
                guard metricsLimiter.acquire("metrics") == nil else {
                    connection.close()
                    continue
                }
                spawn(name: name) {
                    handler(connection, peer)
                    metricsLimiter.release("metrics")
                }
                continue
            }
            let current = config
            let proxyProtocol = service == .sftp ? current.proxyProtocol.sftp : current.proxyProtocol.ftp
            guard proxyProtocol.expectsHeader(from: peer) else {
                // A direct client: bans and limits are checked here, before it gets a thread.
                guard admit(connection, client: peer, service: service) else { continue }
                let limiter = self.limiter
                spawn(name: name) {
                    handler(connection, peer)
                    limiter.release(peer.host)
                }
                continue
            }
            // A balancer: who the client is comes from the PROXY header, read on the connection's
            // own thread (a slow header must not hold up the accept loop). Headers being read are
            // capped like connections, so a balancer cannot make Ferry start unbounded threads.
            guard pendingHeaders.add(1, ordering: .relaxed).newValue <= current.limits.maxConnections else {
                pendingHeaders.subtract(1, ordering: .relaxed)
                logger.warning("refused: too many PROXY headers pending", metadata: ["from": "\(peer)", "service": "\(name)"])
                connection.close()
                continue
            }
            spawn(name: name) { [self] in
                let origin: ProxyProtocolPolicy.Origin
                do {
                    origin = try proxyProtocol.origin(of: connection)
                } catch {
                    pendingHeaders.subtract(1, ordering: .relaxed)
                    logger.warning("refused a connection: \(error)", metadata: ["from": "\(peer)", "service": "\(name)"])
                    connection.close()
                    return
                }
                pendingHeaders.subtract(1, ordering: .relaxed)
                guard case .client(let client) = origin else {
                    logger.debug("balancer health check closed", metadata: ["from": "\(peer)", "service": "\(name)"])
                    connection.close()
                    return
                }
                guard admit(connection, client: client, service: service) else { return }
                // A stop that began while the header was read refuses it like the closed listener.
                // Checked after taking the slot: a drain that saw no slot taken has set `stopping`
                // before it looked, so one of the two sees the other.
                guard !stopping.load(ordering: .sequentiallyConsistent) else {
                    limiter.release(client.host)
                    refuse(connection, "421 Server shutting down.\r\n", service: service)
                    return
                }
                handler(connection, client)
                limiter.release(client.host)
            }
        }
    }

    /// Checks an incoming client against bans and connection limits; a refused one is told why (FTP)
    /// and closed. On success the client holds a place in `limiter` until its handler returns.
    private func admit(_ connection: Socket, client: SocketAddress, service: Service) -> Bool {
        let host = client.host
        if users.defender.isBanned(host) {
            logger.warning("refused a banned address", metadata: ["client": "\(host)", "service": "\(service.rawValue)"])
            refuse(connection, "421 Too many failed logins from your address; try again later.\r\n", service: service)
            return false
        }
        if let refusal = limiter.acquire(host) {
            logger.warning("refused: connection limit", metadata: ["client": "\(host)", "limit": "\(refusal)"])
            refuse(connection, refusal == .tooManyConnections
                ? "421 Too many connections; try again later.\r\n"
                : "421 Too many connections from your address.\r\n", service: service)
            return false
        }
        return true
    }

    /// Closes a refused connection; FTP clients are told why with a 421 line first.
    private func refuse(_ socket: Socket, _ message: String, service: Service) {
        switch service {
        case .ftp:
            try? PlainStream(socket: socket).writeAll(Array(message.utf8), timeout: 2)
        case .implicitFTPS, .sftp, .metrics:
            break  // a clear-text line would only confuse a TLS or SSH client
        }
        socket.close()
    }

    private func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = "conn-\(name)"
        thread.stackSize = 2 << 20
        thread.start()
    }

    // MARK: Shutdown

    /// Whether a stop has begun (`/healthz` answers 503 from then on).
    var isDraining: Bool { shutdown.isRequested }

    /// A stop (issue 12, drain): new sessions are refused at once (listeners closed, `/healthz` 503
    /// so that a balancer takes the instance out), idle sessions are closed politely (FTP 421, SSH
    /// disconnect) and running transfers get `grace` seconds. Then, or as soon as `stopNow()` is
    /// called, every connection still open is cut; each one's thread aborts what it was uploading,
    /// and the stop waits (bounded) for those aborts. Returns when nothing is left.
    func drain(grace: TimeInterval) {
        stopping.store(true, ordering: .sequentiallyConsistent)
        shutdown.request()
        let deadline = Date().addingTimeInterval(grace)
        while limiter.total > 0 && Date() < deadline && !stopNowRequested.load(ordering: .relaxed) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        defer {
            // A thread stuck on the storage side has not aborted its upload: abort what is still
            // open directly, so that no multipart upload outlives the process.
            for upload in S3UploadsInProgress.abortAll() {
                logger.warning("upload aborted at exit", metadata: ["key": "\(upload.key)", "upload_id": "\(upload.uploadID)"])
            }
        }
        guard limiter.total > 0 else { return }
        logger.warning("stopping with connections still open: cutting them; their uploads are aborted",
                       metadata: ["connections": "\(limiter.total)",
                                  "reason": "\(stopNowRequested.load(ordering: .relaxed) ? "second signal" : "grace period over")"])
        shutdown.cutConnections()
        // Each cut connection's thread aborts its upload (a multipart abort is one S3 request).
        let abortDeadline = Date().addingTimeInterval(Self.abortWait)
        while limiter.total > 0 && Date() < abortDeadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if limiter.total > 0 {
            logger.error("connections still busy after being cut; exiting anyway", metadata: ["connections": "\(limiter.total)"])
        }
    }

    /// How long a stop waits for cut connections to abort their uploads.
    static let abortWait: TimeInterval = 20

    /// Ends the grace period of a `drain` in progress (a second SIGTERM or SIGINT).
    func stopNow() {
        stopNowRequested.store(true, ordering: .relaxed)
        shutdown.request()
        shutdown.cutConnections()
    }
}
