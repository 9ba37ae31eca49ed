import CoreMetrics
import MetricCatalog
import Prometheus
import Protocols
import Storage

/// The process's metrics: bootstraps swift-metrics once with the catalog's Prometheus factory
/// (swift-metrics has one factory per process, so there is one exporter) and renders the registry
/// for GET /metrics in the Prometheus text format.
final class MetricsExporter: Sendable {
    static let shared = MetricsExporter()

    private let registry = PrometheusCollectorRegistry()

    private init() {
        MetricsSystem.bootstrap(CatalogMetricsFactory(registry: registry))
        registerSeries()
    }

    /// Creates the series a dashboard reads at zero, so that a rate or a sum exists before the
    /// first event (Prometheus cannot tell "never happened" from "not exported").
    private func registerSeries() {
        FerryMetric.buildInfo.set(1, Ferry.version)
        FerryMetric.bans.register()
        for result in ReloadResult.allCases { FerryMetric.configReloads.register(result.rawValue) }
        FerryMetric.uploadsInProgress.adjust(by: 0)
        // Connections and logins are counted before an SSH channel says whether it runs scp: SSH is
        // `sftp` there; transfers know their protocol.
        for service in [ServiceName.ftp, .sftp].map(\.rawValue) {
            FerryMetric.sessions.register(service)
            FerryMetric.sessionsActive.adjust(service, by: 0)
            for result in LoginResult.allCases { FerryMetric.logins.register(service, result.rawValue) }
        }
        for service in ServiceName.allCases.map(\.rawValue) {
            for direction in TransferRecord.Direction.allCases.map(\.rawValue) {
                FerryMetric.transferBytes.register(service, direction)
                for outcome in TransferOutcome.allCases { FerryMetric.transfers.register(service, direction, outcome.rawValue) }
            }
        }
    }

    /// The page for GET /metrics; the transfer-memory gauges are read now.
    func render(memory: TransferMemory) -> String {
        let usage = memory.usage
        FerryMetric.transferMemoryInUse.set(Double(usage.inUse))
        FerryMetric.transferMemoryPeak.set(Double(usage.peak))
        FerryMetric.transferMemoryWaiting.set(Double(usage.waiting))
        FerryMetric.transferMemoryLimit.set(Double(memory.limit))
        return registry.emitToString()
    }
}

/// The result label of `ferry_logins_total`.
enum LoginResult: String, CaseIterable {
    case success, failure
}
