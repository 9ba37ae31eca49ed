/// Every metric Ferry exports on GET /metrics, in one place: its Prometheus name, type, label names
/// and help text. Modules record through swift-metrics (`FerryMetric+Recording.swift`); the
/// exporter takes HELP lines and histogram buckets from here, and `docs/grafana-dashboard.json`
/// uses only these names (a test checks both).
public enum FerryMetric: String, CaseIterable, Sendable {
    case sessions = "ferry_sessions_total"
    case sessionsActive = "ferry_sessions_active"
    case logins = "ferry_logins_total"
    case bans = "ferry_bans_total"
    case transfers = "ferry_transfers_total"
    case transferBytes = "ferry_transfer_bytes_total"
    case uploadsInProgress = "ferry_uploads_in_progress"
    case s3Requests = "ferry_s3_requests_total"
    case s3RequestDuration = "ferry_s3_request_duration_seconds"
    case s3Retries = "ferry_s3_retries_total"
    case transferMemoryInUse = "ferry_transfer_memory_bytes"
    case transferMemoryLimit = "ferry_transfer_memory_limit_bytes"
    case transferMemoryPeak = "ferry_transfer_memory_peak_bytes"
    case transferMemoryWaiting = "ferry_transfer_memory_waiting"
    case buildInfo = "ferry_build_info"
    case configReloads = "ferry_config_reloads_total"
    case abandonedUploadsAborted = "ferry_abandoned_uploads_aborted_total"

    /// The Prometheus metric type.
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public var kind: Kind {
        switch self {
        case .sessions, .logins, .bans, .transfers, .transferBytes, .s3Requests, .s3Retries, .configReloads,
             .abandonedUploadsAborted: .counter
        case .sessionsActive, .uploadsInProgress, .transferMemoryInUse, .transferMemoryLimit, .transferMemoryPeak,
             .transferMemoryWaiting, .buildInfo: .gauge
        case .s3RequestDuration: .histogram
        }
    }

    /// The label names, in the order recording calls give their values.
    public var labels: [String] {
        switch self {
        case .sessions, .sessionsActive: ["protocol"]
        case .logins: ["protocol", "result"]
        case .transfers: ["protocol", "direction", "outcome"]
        case .transferBytes: ["protocol", "direction"]
        case .s3Requests: ["operation", "status"]
        case .s3RequestDuration, .s3Retries: ["operation"]
        case .buildInfo: ["version"]
        case .configReloads: ["result"]
        case .abandonedUploadsAborted: ["storage"]
        case .bans, .uploadsInProgress, .transferMemoryInUse, .transferMemoryLimit, .transferMemoryPeak,
             .transferMemoryWaiting: []
        }
    }

    /// The `# HELP` text.
    public var help: String {
        switch self {
        case .sessions: "Client connections accepted, by protocol (ftp counts FTPS; every SSH connection counts as sftp, scp included)."
        case .sessionsActive: "Client connections open now, by protocol."
        case .logins: "Login attempts by protocol (ftp, or sftp for every SSH login) and result (success, failure)."
        case .bans: "Client addresses banned by the login defender."
        case .transfers: "Finished transfers by protocol, direction (upload, download) and outcome (complete, aborted by the client, failed in Ferry or storage)."
        case .transferBytes: "Bytes moved by transfers, complete or not, by protocol and direction."
        case .uploadsInProgress: "Uploads begun and neither published nor aborted yet."
        case .s3Requests: "S3 requests by API operation and HTTP status (\"error\" when no answer came, \"aborted\" when Ferry stopped reading one)."
        case .s3RequestDuration: "S3 request latency by API operation, from sending to the end of the answer."
        case .s3Retries: "S3 requests repeated after a transient failure, by API operation."
        case .transferMemoryInUse: "Bytes of [limits] transfer_memory leased by transfers now."
        case .transferMemoryLimit: "The transfer memory budget ([limits] transfer_memory)."
        case .transferMemoryPeak: "The most transfer memory leased at once since start."
        case .transferMemoryWaiting: "Transfers waiting for transfer memory now."
        case .buildInfo: "Always 1; the version label names the running Ferry."
        case .configReloads: "Configuration reloads (SIGHUP, ferry reload) by result: ok (applied), failed (the file had errors; nothing changed)."
        case .abandonedUploadsAborted: "Pending multipart uploads older than abandoned_upload_age that this instance aborted, by storage."
        }
    }

    /// Histogram bucket bounds in seconds (histograms only): S3 answers take milliseconds nearby
    /// and seconds across continents or for large parts.
    public var bucketSeconds: [Double] {
        switch self {
        case .s3RequestDuration: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
        default: []
        }
    }
}
