import Synchronization

/// Set once when the gateway stops: connections close at their next idle moment (running transfers
/// finish first), so a stop never cuts an upload in half.
public final class ShutdownSignal: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func request() { requested.store(true, ordering: .releasing) }
    public var isRequested: Bool { requested.load(ordering: .acquiring) }
}
