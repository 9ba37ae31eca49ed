import CoreMetrics
@testable import Gateway
import MetricCatalog
import Prometheus
import Testing

/// The catalog follows Prometheus naming (what `promtool check metrics` lints), and the factory
/// exports every catalog metric with its HELP text and type, histograms with the catalog's buckets.
@Suite struct MetricCatalogTests {
    @Test func namesFollowPrometheusConventions() {
        for metric in FerryMetric.allCases {
            let name = metric.rawValue
            #expect(name.hasPrefix("ferry_") && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }, "\(name)")
            #expect((metric.kind == .counter) == name.hasSuffix("_total"), "\(name): counters and only counters end in _total")
            #expect(!metric.help.isEmpty && !metric.help.contains("\n"), "\(name)")
            #expect((metric.kind == .histogram) == !metric.bucketSeconds.isEmpty, "\(name)")
            #expect(metric.bucketSeconds == metric.bucketSeconds.sorted())
            #expect(Set(metric.labels).count == metric.labels.count && !metric.labels.contains("le"), "\(name)")
        }
    }

    @Test func factoryExportsHelpTypeAndBuckets() {
        let registry = PrometheusCollectorRegistry()
        let factory = CatalogMetricsFactory(registry: registry)
        Counter(label: FerryMetric.logins.rawValue, dimensions: [("protocol", "ftp"), ("result", "success")],
                factory: factory).increment(by: 3)
        Meter(label: FerryMetric.sessionsActive.rawValue, dimensions: [("protocol", "sftp")], factory: factory).increment(by: 2.0)
        Timer(label: FerryMetric.s3RequestDuration.rawValue, dimensions: [("operation", "PutObject")], factory: factory)
            .recordNanoseconds(30_000_000)
        let page = registry.emitToString()
        #expect(page.contains("# HELP ferry_logins_total \(FerryMetric.logins.help)\n"))
        #expect(page.contains("# TYPE ferry_logins_total counter\n"))
        #expect(page.contains("ferry_logins_total{protocol=\"ftp\",result=\"success\"} 3\n"))
        #expect(page.contains("# TYPE ferry_sessions_active gauge\n"))
        #expect(page.contains("ferry_sessions_active{protocol=\"sftp\"} 2.0\n"))
        #expect(page.contains("# TYPE ferry_s3_request_duration_seconds histogram\n"))
        // 30 ms falls in the 50 ms bucket, not in the 25 ms one; the count is one.
        #expect(page.contains("ferry_s3_request_duration_seconds_bucket{operation=\"PutObject\",le=\"0.025\"} 0\n"))
        #expect(page.contains("ferry_s3_request_duration_seconds_bucket{operation=\"PutObject\",le=\"0.05\"} 1\n"))
        #expect(page.contains("ferry_s3_request_duration_seconds_bucket{operation=\"PutObject\",le=\"60.0\"} 1\n"))
        #expect(page.contains("ferry_s3_request_duration_seconds_count{operation=\"PutObject\"} 1\n"))
    }
}
