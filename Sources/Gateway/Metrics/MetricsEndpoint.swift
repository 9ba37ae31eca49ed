import Foundation
import Logging
import Protocols

/// GET /metrics (Prometheus text) and GET /healthz on the `[metrics]` listener.
struct MetricsEndpoint: Sendable {
    let observer: GatewayObserver
    let logger: Logger
    /// Once a stop has begun, /healthz answers 503 so that a balancer stops sending sessions here.
    let shutdown: ShutdownSignal

    func serve(_ socket: Socket) {
        defer { socket.close() }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // Five seconds for the whole request line, however slowly it trickles in.
        let deadline = Date().addingTimeInterval(5)
        while request.count < 16_384, !request.contains(UInt8(ascii: "\n")) {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return }
            let count = (try? buffer.withUnsafeMutableBytes { raw throws(SocketError) in try socket.read(into: raw, timeout: remaining) }) ?? 0
            if count == 0 { return }
            request += buffer[0..<count]
        }
        let line = String(decoding: request.prefix(while: { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }), as: UTF8.self)
        let parts = line.split(separator: " ")
        let (status, body): (String, String)
        switch (parts.first, parts.dropFirst().first) {
        case ("GET", "/metrics"): (status, body) = ("200 OK", observer.metricsText())
        case ("GET", "/healthz"): (status, body) = shutdown.isRequested ? ("503 Service Unavailable", "draining\n") : ("200 OK", "ok\n")
        case ("GET", _): (status, body) = ("404 Not Found", "not found\n")
        default: (status, body) = ("405 Method Not Allowed", "method not allowed\n")
        }
        let response = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        try? socket.writeAll(Array(response.utf8), timeout: 5)
    }
}
