import CoreMetrics

/// Recording through swift-metrics: the process's bootstrapped factory (the Prometheus exporter
/// in `ferry serve`, nothing in unit tests) receives every value. Label values follow `labels`.
extension FerryMetric {
    /// Adds to a counter.
    public func increment(_ values: String..., by amount: UInt64 = 1) {
        assert(kind == .counter, "\(rawValue) is not a counter")
        Counter(label: rawValue, dimensions: dimensions(values)).increment(by: Int64(clamping: amount))
    }

    /// Creates the counter's series at zero, so that a scrape shows it before the first event.
    public func register(_ values: String...) {
        assert(kind == .counter, "\(rawValue) is not a counter")
        Counter(label: rawValue, dimensions: dimensions(values)).increment(by: 0)
    }

    /// Moves a gauge up (positive `delta`) or down.
    public func adjust(_ values: String..., by delta: Int) {
        assert(kind == .gauge, "\(rawValue) is not a gauge")
        let meter = Meter(label: rawValue, dimensions: dimensions(values))
        if delta >= 0 { meter.increment(by: Double(delta)) } else { meter.decrement(by: Double(-delta)) }
    }

    /// Sets a gauge.
    public func set(_ value: Double, _ values: String...) {
        assert(kind == .gauge, "\(rawValue) is not a gauge")
        Meter(label: rawValue, dimensions: dimensions(values)).set(value)
    }

    /// Adds one observation, in seconds, to a histogram.
    public func observe(seconds: Double, _ values: String...) {
        assert(kind == .histogram, "\(rawValue) is not a histogram")
        Timer(label: rawValue, dimensions: dimensions(values)).recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    private func dimensions(_ values: [String]) -> [(String, String)] {
        assert(values.count == labels.count, "\(rawValue) takes the labels \(labels)")
        return Array(zip(labels, values))
    }
}
