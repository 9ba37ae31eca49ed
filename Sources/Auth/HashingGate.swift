import Foundation

/// Caps how many password hashes are computed at once (each is ~22 ms of CPU and some MiB of memory
/// for yescrypt): a burst of logins queues here instead of taking every core.
final class HashingGate: Sendable {
    private let slots: DispatchSemaphore

    init(concurrent: Int) {
        slots = DispatchSemaphore(value: max(1, concurrent))
    }

    func run<T>(_ body: () -> T) -> T {
        slots.wait()
        defer { slots.signal() }
        return body()
    }
}
