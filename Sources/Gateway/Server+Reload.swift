import Auth
import Foundation
import Logging
import MetricCatalog
import Protocols

/// How a configuration reload ended (`ferry_config_reloads_total{result}`).
enum ReloadResult: String, CaseIterable {
    /// The new configuration is in force.
    case ok
    /// The file had errors (or something it names could not be loaded): nothing changed.
    case failed
}

/// Live reload (issue 12, part 4): SIGHUP, `ferry reload`, systemd's ExecReload.
extension Server {
    /// Reloads the configuration from `path`. The file is validated as `check-config` validates it,
    /// and everything it names is loaded (storages, TLS certificate and key, SSH host keys) before
    /// anything changes: any error leaves the running configuration as it was, and every error is
    /// logged. Otherwise users, keys, homes, folders, authorities, delete flags, limits, the TLS
    /// certificate, the SSH host keys, the PROXY protocol sources, passive-mode settings, storages
    /// and the log level take effect for new connections at once; sessions in progress keep their
    /// connection's settings and see their user's changes at their next command (a removed user's
    /// session ends after its current transfer). Settings that need new sockets or a new process
    /// (listen addresses, the transfer log, the memory budget, the log format) are reported as
    /// needing a restart and keep their running values.
    @discardableResult
    func reload(from path: String) -> ReloadResult {
        let started = Date()
        let loaded: FerryConfig
        do {
            loaded = try ConfigLoader().load(path: path)
        } catch {
            return failReload(path: path, reasons: error.description.split(separator: "\n").map(String.init))
        }
        let previous = config
        let (applied, restartNeeded) = Self.keepingRestartOnlySettings(loaded, running: previous, atStart: startConfig)
        let storages: StorageRegistry
        let contexts: (FTPServerContext?, SSHServerContext?)
        do {
            storages = try Self.makeStorages(applied, memory: memory, workers: partWorkers, logger: logger)
            contexts = try Self.makeContexts(applied, users: users, storages: storages, observer: observer,
                                             logger: logger, shutdown: shutdown, liveStorages: liveStorages)
        } catch {
            return failReload(path: path, reasons: [error.description])
        }

        // Everything loaded: swap it in.
        let previousFingerprints = currentRuntime.ssh?.hostKeys.fingerprints ?? []
        // Storages and contexts before users: a session that sees the new users' generation then
        // finds the storages they name (Session.refreshUser).
        liveStorages.replace(with: storages)
        replaceRuntime(Runtime(config: applied, storages: storages, ftp: contexts.0, ssh: contexts.1))
        users.replace(with: Self.userDefinition(applied, logger: logger))
        users.defender.update(maxFailures: applied.limits.maxLoginFailures, banTime: applied.limits.banTime)
        limiter.update(maxTotal: applied.limits.maxConnections, maxPerAddress: applied.limits.maxConnectionsPerIP)
        LogLineHandler.setProcessLevel(applied.log.level)

        for warning in loaded.warnings { logger.warning("\(warning)") }
        for item in restartNeeded {
            logger.warning("configuration change needs a restart; the running value stays", metadata: ["setting": "\(item)"])
        }
        let before = Dictionary(previous.users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(applied.users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let changed = after.filter { name, user in before[name].map { $0 != user } ?? false }.count
        if let fingerprints = contexts.1?.hostKeys.fingerprints, fingerprints != previousFingerprints {
            for fingerprint in fingerprints { logger.info("SSH host key", metadata: ["key": "\(fingerprint)"]) }
        }
        logger.info("configuration reloaded", metadata: [
            "path": "\(path)",
            "users": "\(after.count)",
            "users_added": "\(after.keys.filter { before[$0] == nil }.count)",
            "users_removed": "\(before.keys.filter { after[$0] == nil }.count)",
            "users_changed": "\(changed)",
            "restart_needed": "\(restartNeeded.count)",
            "seconds": "\(String(format: "%.3f", Date().timeIntervalSince(started)))",
        ])
        FerryMetric.configReloads.increment(ReloadResult.ok.rawValue)
        return .ok
    }

    private func failReload(path: String, reasons: [String]) -> ReloadResult {
        logger.error("configuration reload failed: nothing changed", metadata: ["path": "\(path)", "errors": "\(reasons.count)"])
        for reason in reasons {
            logger.error("configuration reload error", metadata: ["path": "\(path)", "error": "\(reason)"])
        }
        FerryMetric.configReloads.increment(ReloadResult.failed.rawValue)
        return .failed
    }

    /// `loaded` with every setting that a running process cannot change put back to its running
    /// value, and a description of each such change for the log.
    static func keepingRestartOnlySettings(_ loaded: FerryConfig, running: FerryConfig,
                                           atStart: FerryConfig) -> (FerryConfig, [String]) {
        var applied = loaded
        var notes: [String] = []
        func note(_ setting: String, _ from: String, _ to: String) {
            notes.append("\(setting): \(from.isEmpty ? "(none)" : from) -> \(to.isEmpty ? "(none)" : to)")
        }
        // Listeners were opened at start: their addresses (and whether a protocol is served at all)
        // stay until a restart.
        func keepListener(_ setting: String, _ old: SocketAddress?, _ new: inout SocketAddress?) {
            if old != new { note(setting, old?.description ?? "", new?.description ?? "") }
            new = old
        }
        func keepServed<Section>(_ name: String, atStart old: Section?, loaded new: Section?, running: Section?,
                                 keepingListeners keep: (Section, inout Section) -> Void) -> Section? {
            switch (old, new) {
            case (let old?, var new?):
                keep(old, &new)
                return new
            case (let old?, nil):
                note(name, "served", "removed")
                return running ?? old
            case (nil, .some):
                note(name, "", "added")
                return nil
            case (nil, nil):
                return nil
            }
        }
        applied.ftp = keepServed("[ftp]", atStart: atStart.ftp, loaded: loaded.ftp, running: running.ftp) { old, new in
            keepListener("[ftp] listen", old.listen, &new.listen)
            keepListener("[ftp] implicit_tls_listen", old.implicitTLSListen, &new.implicitTLSListen)
        }
        applied.sftp = keepServed("[sftp]", atStart: atStart.sftp, loaded: loaded.sftp, running: running.sftp) { old, new in
            keepListener("[sftp] listen", old.listen, &new.listen)
        }
        if atStart.metrics.listen != loaded.metrics.listen {
            note("[metrics] listen", atStart.metrics.listen?.description ?? "", loaded.metrics.listen?.description ?? "")
            applied.metrics = atStart.metrics
        }
        if atStart.limits.transferMemory != loaded.limits.transferMemory {
            note("[limits] transfer_memory", "\(atStart.limits.transferMemory)", "\(loaded.limits.transferMemory)")
            applied.limits.transferMemory = atStart.limits.transferMemory
        }
        if atStart.log.format != loaded.log.format {
            note("[log] format", atStart.log.format.rawValue, loaded.log.format.rawValue)
            applied.log.format = atStart.log.format
        }
        if atStart.log.transferLog != loaded.log.transferLog {
            note("[log] transfer_log", atStart.log.transferLog, loaded.log.transferLog)
            applied.log.transferLog = atStart.log.transferLog
        }
        return (applied, notes)
    }
}
