/// Session events the gateway counts and logs (metrics, transfer log). Called on connection threads.
public protocol SessionObserver: Sendable {
    func connectionOpened(service: ServiceName)
    func connectionClosed(service: ServiceName)
    func loginSucceeded(service: ServiceName)
    func loginFailed(service: ServiceName)
    func transferFinished(_ record: TransferRecord)
}
