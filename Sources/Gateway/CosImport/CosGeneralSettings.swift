import Protocols

/// `[NETWORK]`, `[FILE_OPTION]` and `[OPTIONAL]` of a cos-ftp-server configuration, as far as they
/// mean something in Ferry; what they do not is reported with the reason.
struct CosGeneralSettings {
    var listenPort: UInt16 = 2121
    var passivePorts: ClosedRange<UInt16> = 60000...65535
    var masqueradeAddress: String?
    var maxObjectSize: UInt64?
    var partSize: UInt64?
    var uploadConcurrency: Int?
    var maxConnections: Int?
    var logLevel: String?

    init(_ file: CosINIFile, report: inout [CosImport.ReportLine]) throws(CosImport.ImportError) {
        func note(_ outcome: CosImport.Outcome, _ section: String, _ key: String, _ text: String) {
            report.append(CosImport.ReportLine(outcome: outcome, option: "\(section).\(key)", text: text))
        }
        func fail(_ section: String, _ key: String, _ value: CosINIFile.Value, _ expected: String) -> CosImport.ImportError {
            CosImport.ImportError(section: section, key: key, line: value.line,
                                  reason: "expected \(expected), found \(value.text.debugDescription)")
        }
        if let network = file.section("NETWORK") {
            for key in network.keys {
                let value = network.values[key]!
                switch key {
                case "listen_port":
                    guard let port = UInt16(value.text), port > 0 else { throw fail("NETWORK", key, value, "a port from 1 to 65535") }
                    listenPort = port
                    note(.mapped, "NETWORK", key, "[ftp] listen = \"0.0.0.0:\(port)\"")
                case "passive_port":
                    let bounds = value.text.split(separator: ",").map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
                    guard bounds.count == 2, let low = bounds[0], let high = bounds[1], low > 0, low <= high else {
                        throw fail("NETWORK", key, value, "LOW,HIGH such as 60000,65535")
                    }
                    passivePorts = low...high
                    note(.mapped, "NETWORK", key, "[ftp] passive_ports = \"\(low)-\(high)\"")
                case "masquerade_address":
                    if value.text.isEmpty {
                        note(.ignored, "NETWORK", key, "empty: passive replies announce the control connection's address")
                    } else if SocketAddress(host: value.text, port: 0)?.family == .ipv4 {
                        masqueradeAddress = value.text
                        note(.mapped, "NETWORK", key, "[ftp] masquerade_address")
                    } else {
                        note(.unmapped, "NETWORK", key, "\(value.text.debugDescription) is not an IPv4 address, which Ferry's "
                             + "masquerade_address needs; resolve the name and set the address by hand")
                    }
                default:
                    note(.unmapped, "NETWORK", key, "not a cos-ftp-server [NETWORK] option")
                }
            }
        }
        if let option = file.section("FILE_OPTION") {
            for key in option.keys {
                let value = option.values[key]!
                switch key {
                case "single_file_max_size":
                    guard let size = UInt64(value.text), size > 0 else { throw fail("FILE_OPTION", key, value, "a size in bytes") }
                    let limit: UInt64 = 5 << 40
                    maxObjectSize = min(size, limit)
                    note(.mapped, "FILE_OPTION", key, size > limit ? "max_object_size = 5 TiB, S3's largest object (\(size) is more)"
                                                                   : "max_object_size = \(size) on every storage")
                default:
                    note(.unmapped, "FILE_OPTION", key, "not a cos-ftp-server [FILE_OPTION] option")
                }
            }
        }
        if let optional = file.section("OPTIONAL") {
            for key in optional.keys {
                let value = optional.values[key]!
                let isDefault = value.text.lowercased() == "default"
                switch key {
                case "config_check_enable":
                    note(.ignored, "OPTIONAL", key, "Ferry does not refuse to start; its memory stays within [limits] transfer_memory")
                case "min_part_size":
                    if isDefault { note(.ignored, "OPTIONAL", key, "default: Ferry's part_size default (16 MiB) applies"); continue }
                    guard let size = UInt64(value.text) else { throw fail("OPTIONAL", key, value, "a size in bytes or default") }
                    if (UInt64(5 << 20)...UInt64(5 << 30)).contains(size) {
                        partSize = size
                        note(.mapped, "OPTIONAL", key, "part_size = \(size) on every storage")
                    } else {
                        note(.unmapped, "OPTIONAL", key, "\(size) is outside S3's part sizes (5 MiB to 5 GiB); Ferry's default applies")
                    }
                case "upload_thread_num":
                    if isDefault { note(.ignored, "OPTIONAL", key, "default: Ferry's upload_concurrency default (4) applies"); continue }
                    guard let threads = Int(value.text) else { throw fail("OPTIONAL", key, value, "a number or default") }
                    if (1...64).contains(threads) {
                        uploadConcurrency = threads
                        note(.mapped, "OPTIONAL", key, "upload_concurrency = \(threads) on every storage")
                    } else {
                        note(.unmapped, "OPTIONAL", key, "\(threads) is outside 1 to 64; Ferry's default applies")
                    }
                case "max_connection_num":
                    if isDefault { note(.ignored, "OPTIONAL", key, "default: Ferry's max_connections (512) applies"); continue }
                    guard let count = Int(value.text), count >= 0 else { throw fail("OPTIONAL", key, value, "a number, 0 or default") }
                    if count == 0 {
                        note(.ignored, "OPTIONAL", key, "0 = unlimited, which Ferry has not: its max_connections default (512) applies")
                    } else {
                        // cos-ftp-server counts control and data connections alike and keeps one for
                        // refusals; Ferry counts clients (control connections).
                        let clients = max(1, (count - 1) / 2)
                        maxConnections = clients
                        note(.mapped, "OPTIONAL", key, "[limits] max_connections = \(clients) (clients: (\(count) - 1) / 2, "
                             + "since cos-ftp-server counted each client's data connection too)")
                    }
                case "max_list_file":
                    note(.ignored, "OPTIONAL", key, "Ferry never cuts a listing off: every page is listed, in bounded memory")
                case "log_level":
                    let levels = ["DEBUG": "debug", "INFO": "info", "WARNING": "warning", "WARN": "warning", "ERROR": "error"]
                    if let level = levels[value.text.uppercased()] {
                        logLevel = level
                        note(.mapped, "OPTIONAL", key, "[log] level = \"\(level)\"")
                    } else {
                        note(.unmapped, "OPTIONAL", key, "\(value.text.debugDescription) is not DEBUG, INFO, WARNING or ERROR")
                    }
                case "log_dir":
                    note(.ignored, "OPTIONAL", key, "Ferry logs to standard error (the journal under systemd); "
                         + "its per-transfer log is [log] transfer_log")
                default:
                    note(.unmapped, "OPTIONAL", key, "not a cos-ftp-server [OPTIONAL] option")
                }
            }
        }
    }
}
