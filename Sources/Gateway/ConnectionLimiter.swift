import Locking

/// Enforces `max_connections` and `max_connections_per_ip` across every listener.
final class ConnectionLimiter: Sendable {
    let maxTotal: Int
    let maxPerAddress: Int
    private let state = Locked((total: 0, perAddress: [String: Int]()))

    init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    enum Refusal: Equatable { case tooManyConnections, tooManyFromAddress }

    /// Takes a slot for `address`, or says why not. Every successful `acquire` needs one `release`.
    func acquire(_ address: String) -> Refusal? {
        state.withLock { state in
            if state.total >= maxTotal { return .tooManyConnections }
            if state.perAddress[address, default: 0] >= maxPerAddress { return .tooManyFromAddress }
            state.total += 1
            state.perAddress[address, default: 0] += 1
            return nil
        }
    }

    func release(_ address: String) {
        state.withLock { state in
            state.total -= 1
            let remaining = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    var total: Int { state.withLock { $0.total } }
}
