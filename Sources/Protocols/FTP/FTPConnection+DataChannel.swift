import Foundation

/// Why a data connection could not be made.
enum FTPDataConnectionError: Error {
    case noEndpoint
    case failed(String)
}

/// PASV, EPSV, PORT, EPRT (RFC 959 §4.1.2, RFC 2428) and making the data connection. Active mode
/// only ever connects back to the control connection's own address (no FTP bounce), and a passive
/// listener only accepts the control connection's address.
extension FTPConnection {
    func closeDataEndpoint() {
        if case .passive(let listener) = dataEndpoint { listener.close() }
        dataEndpoint = .none
    }

    private func openPassiveListener() -> Socket? {
        closeDataEndpoint()
        do {
            let listener: Socket
            if let range = context.settings.passivePorts {
                listener = try Socket.listen(on: localAddress.withPort(0), portIn: range)
            } else {
                listener = try Socket.listen(on: localAddress.withPort(0), backlog: 4)
            }
            dataEndpoint = .passive(listener)
            return listener
        } catch {
            logger.error("cannot open a passive data port", metadata: ["error": "\(error)"])
            reply(.cannotOpenDataConnection, "Cannot open a passive data port.")
            return nil
        }
    }

    func handlePASV() {
        if extendedPassiveOnly {
            reply(.badSequenceOfCommands, "EPSV ALL is in effect; use EPSV.")
            return
        }
        guard let octets = context.settings.announcedPassiveAddress(client: clientAddress, local: localAddress).ipv4Octets else {
            reply(.cannotOpenDataConnection, "PASV needs IPv4; use EPSV.")
            return
        }
        guard let listener = openPassiveListener(), let port = listener.localAddress?.port else { return }
        let numbers = octets.map(String.init) + [String(port >> 8), String(port & 0xFF)]
        reply(.enteringPassiveMode, "Entering Passive Mode (\(numbers.joined(separator: ","))).")
    }

    func handleEPSV(_ argument: String) {
        let ownFamily = localAddress.family == .ipv4 ? "1" : "2"
        switch argument.uppercased() {
        case "ALL":
            extendedPassiveOnly = true
            reply(.commandOkay, "EPSV ALL ok.")
            return
        case "", ownFamily:
            break
        case "1", "2":
            reply(.networkProtocolNotSupported, "Network protocol not supported, use (\(ownFamily)).")
            return
        default:
            reply(.syntaxErrorInParameters, "Bad EPSV argument.")
            return
        }
        guard let listener = openPassiveListener(), let port = listener.localAddress?.port else { return }
        reply(.enteringExtendedPassiveMode, "Entering Extended Passive Mode (|||\(port)|).")
    }

    func handlePORT(_ argument: String) {
        guard let address = FTPArguments.port(argument) else {
            reply(.syntaxErrorInParameters, "Illegal PORT command.")
            return
        }
        setActiveEndpoint(address, command: "PORT")
    }

    /// `EPRT |1|132.235.1.2|6275|` or `EPRT |2|::1|6275|`; any printable delimiter (RFC 2428 §2).
    func handleEPRT(_ argument: String) {
        switch FTPArguments.eprt(argument) {
        case .address(let address):
            setActiveEndpoint(address, command: "EPRT")
        case .malformed:
            reply(.syntaxErrorInParameters, "Illegal EPRT command.")
        case .unsupportedFamily:
            reply(.networkProtocolNotSupported, "Network protocol not supported, use (1,2).")
        case .badAddress:
            reply(.syntaxErrorInParameters, "Illegal EPRT address.")
        }
    }

    private func setActiveEndpoint(_ address: SocketAddress?, command: String) {
        if extendedPassiveOnly {
            reply(.badSequenceOfCommands, "EPSV ALL is in effect; use EPSV.")
            return
        }
        guard context.settings.activeModeEnabled else {
            reply(.commandNotImplemented, "Active mode is disabled; use PASV or EPSV.")
            return
        }
        guard let address else {
            reply(.syntaxErrorInParameters, "Illegal \(command) command.")
            return
        }
        // FTP bounce protection (RFC 2577 §3): only the client itself, never a privileged port.
        guard address.host == clientAddress.host, address.port >= 1024 else {
            logger.warning("refused \(command) to a foreign address or privileged port", metadata: ["target": "\(address)"])
            reply(.parameterNotImplemented, "Illegal \(command): the data address must be your own, port 1024 or above.")
            return
        }
        closeDataEndpoint()
        dataEndpoint = .active(address)
        reply(.commandOkay, "\(command) command successful. Consider using PASV.")
    }

    /// Makes the data connection for one transfer; the endpoint is used up either way.
    func openDataConnection() throws(FTPDataConnectionError) -> Socket {
        let endpoint = dataEndpoint
        dataEndpoint = .none
        switch endpoint {
        case .none:
            throw .noEndpoint
        case .active(let address):
            do {
                return try Socket.connect(to: address, from: localAddress.withPort(0), timeout: context.settings.dataTimeout)
            } catch {
                throw .failed("connect to \(address): \(error)")
            }
        case .passive(let listener):
            defer { listener.close() }
            let deadline = Date().addingTimeInterval(context.settings.dataTimeout)
            while true {
                let remaining = deadline.timeIntervalSinceNow
                guard remaining > 0 else { throw .failed("no data connection within \(Int(context.settings.dataTimeout)) s") }
                // A transfer that has not started does not hold up a stop of the gateway.
                if context.shutdown.isRequested { throw .failed("the server is shutting down") }
                // Nor does a client that has gone: its control connection is watched meanwhile (a line
                // that arrives, such as ABOR, waits its turn).
                if let input = control.pollLine() {
                    if input == .closed { throw .failed("the client closed the control connection") }
                    queuedLines.append(input)
                }
                let accepted: Socket?
                do {
                    accepted = try listener.accept(timeout: min(remaining, 1))
                } catch {
                    throw .failed("accept: \(error)")
                }
                guard let socket = accepted else { continue }
                // Through a balancer the data connection, too, starts with a PROXY header naming
                // the client; that address is the one compared with the control connection's.
                let origin: ProxyProtocolPolicy.Origin
                do {
                    origin = try context.settings.proxyProtocol.origin(of: socket)
                } catch {
                    logger.warning("refused a data connection: \(error)", metadata: ["from": "\(socket.remoteAddress?.description ?? "?")"])
                    socket.close()
                    continue
                }
                guard case .client(let peer) = origin, peer.host == clientAddress.host else {
                    if case .client(let peer) = origin {
                        logger.warning("refused a data connection from a foreign address", metadata: ["from": "\(peer)"])
                    }
                    socket.close()
                    continue
                }
                return socket
            }
        }
    }
}
