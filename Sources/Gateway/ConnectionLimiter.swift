import Locking

/// Enforces `max_connections` and `max_connections_per_ip` across every listener.
final class ConnectionLimiter: Sendable {
    private let state: Locked<(total: Int, perAddress: [String: Int], maxTotal: Int, maxPerAddress: Int)>

    init(maxTotal: Int, maxPerAddress: Int) {
        self.state = Locked((total: 0, perAddress: [:], maxTotal: maxTotal, maxPerAddress: maxPerAddress))
    }

    /// A reload's new limits: they apply to connections from now on (none already open is closed).
    func update(maxTotal: Int, maxPerAddress: Int) {
        state.withLock { state in
            state.maxTotal = maxTotal
            state.maxPerAddress = maxPerAddress
        }
    }

    enum Refusal: Equatable { case tooManyConnections, tooManyFromAddress }

    /// Takes a slot for `address`, or says why not. Every successful `acquire` needs one `release`.
    func acquire(_ address: String) -> Refusal? {
        state.withLock { state in
            if state.total >= state.maxTotal { return .tooManyConnections }
            if state.perAddress[address, default: 0] >= state.maxPerAddress { return .tooManyFromAddress }
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
