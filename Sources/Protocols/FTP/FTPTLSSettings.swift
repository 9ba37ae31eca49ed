/// FTPS settings (RFC 4217) from `[tls]` and `[ftp] tls`, `tls_session_reuse`.
public struct FTPTLSSettings: Sendable {
    /// `[ftp] tls`. `off`: AUTH TLS is refused on the plain listener (an implicit-TLS listener, if
    /// configured, still speaks TLS); `optional`: clients choose; `required`: no login and no data
    /// connection in clear.
    public enum Policy: String, Sendable, CaseIterable { case off, optional, required }
    /// `[ftp] tls_session_reuse`. `required`: a PROT P data connection must resume the control
    /// connection's TLS session (522 otherwise); `allowed` and `off` accept either.
    public enum SessionReuse: String, Sendable, CaseIterable { case off, allowed, required }

    public var context: TLSContext
    public var policy: Policy
    public var sessionReuse: SessionReuse

    public init(context: TLSContext, policy: Policy, sessionReuse: SessionReuse) {
        self.context = context
        self.policy = policy
        self.sessionReuse = sessionReuse
    }
}
