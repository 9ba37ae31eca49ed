import CoreMetrics
import MetricCatalog
import Prometheus

/// swift-metrics → Prometheus, with the HELP text and histogram buckets of `FerryMetric`.
/// swift-prometheus's own factory registers every metric without HELP, which `promtool check
/// metrics` reports as a lint error; this one asks the catalog. A label outside the catalog (a
/// library's metric) is still exported, with a generic HELP line.
struct CatalogMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        let help = FerryMetric(rawValue: label)?.help ?? "\(label) (recorded by a library)."
        return MetricNameDescriptor(metricName: label, unitName: "", helpText: help)
    }

    private func buckets(_ label: String) -> [Duration] {
        let seconds = FerryMetric(rawValue: label)?.bucketSeconds ?? []
        let bounds = seconds.isEmpty ? FerryMetric.s3RequestDuration.bucketSeconds : seconds
        return bounds.map { Duration.nanoseconds(Int64($0 * 1e9)) }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate {
            let bounds = FerryMetric(rawValue: label)?.bucketSeconds ?? []
            return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions,
                                               buckets: bounds.isEmpty ? [1, 10, 100, 1000, 10000] : bounds)
        }
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
