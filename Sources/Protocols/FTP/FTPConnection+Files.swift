import Foundation
import Storage
import PathRules

/// File and directory commands that need no data connection.
extension FTPConnection {
    func handleMKD(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "MKD") else { return }
        do {
            try session.makeDirectory(path)
            logger.info("directory created", metadata: ["path": "\(path)"])
            reply(.pathnameCreated, "\(Self.quoted(path)) created")
        } catch {
            reply(for: error, command: "MKD")
        }
    }

    func handleRMD(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "RMD") else { return }
        do {
            try session.removeDirectory(path)
            logger.info("directory removed", metadata: ["path": "\(path)"])
            reply(.fileActionOkay, "Remove directory operation successful.")
        } catch {
            reply(for: error, command: "RMD")
        }
    }

    func handleDELE(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "DELE") else { return }
        do {
            try session.deleteFile(path)
            logger.info("file deleted", metadata: ["path": "\(path)"])
            reply(.fileActionOkay, "Delete operation successful.")
        } catch {
            reply(for: error, command: "DELE")
        }
    }

    func handleRNFR(_ argument: String) {
        renameSource = nil
        guard let session, let path = resolvePath(argument, command: "RNFR") else { return }
        do {
            _ = try session.stat(path)
            renameSource = path
            reply(.fileActionPendingFurtherInformation, "Ready for RNTO.")
        } catch {
            reply(for: error, command: "RNFR")
        }
    }

    /// Renames like rename(2): an existing file is replaced (under the overwrite rule: the delete
    /// flag unless the target is empty).
    func handleRNTO(_ argument: String) {
        guard let source = renameSource else {
            reply(.badSequenceOfCommands, "RNFR required first.")  // the RNFR just before failed
            return
        }
        renameSource = nil
        guard let session, let target = resolvePath(argument, command: "RNTO") else { return }
        do {
            try session.rename(source, to: target, replacing: true)
            reply(.fileActionOkay, "Rename successful.")
        } catch {
            reply(for: error, command: "RNTO")
        }
    }

    func handleSIZE(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "SIZE") else { return }
        do {
            let info = try session.stat(path)
            guard !info.isDirectory else {
                reply(for: .isADirectory(path.description), command: "SIZE")  // RFC 3659 §4.2: files only
                return
            }
            reply(.fileStatus, String(info.size))
        } catch {
            reply(for: error, command: "SIZE")
        }
    }

    func handleMDTM(_ argument: String) {
        guard let session, let path = resolvePath(argument, command: "MDTM") else { return }
        do {
            let info = try session.stat(path)
            reply(.fileStatus, FTPListingFormat.timeValue(info.modified))
        } catch {
            reply(for: error, command: "MDTM")
        }
    }

    /// MFMT (draft-somers-ftp-mfxx §3): sets a file's (or directory's) modification time; FileZilla
    /// sends it after an upload when "preserve timestamps" is on. The reply names the time now in force.
    func handleMFMT(_ argument: String) {
        let (timeText, pathText) = FTPCommandTable.parse(argument)
        guard let date = FTPArguments.modificationTime(timeText), !pathText.isEmpty else {
            reply(.syntaxErrorInParameters, "Syntax: MFMT <YYYYMMDDHHMMSS[.sss]> <path>.")
            return
        }
        setModificationTime(date, pathText: pathText, command: "MFMT") { info in
            reply(.fileStatus, "Modify=\(FTPListingFormat.timeValue(info.modified)); \(pathText)")
        }
    }

    /// Sets the time, then answers with `success` and the file's state; errors are the usual replies.
    func setModificationTime(_ date: Date, pathText: String, command: String, success: (FileInfo) -> Void) {
        guard let session, let path = resolvePath(pathText, command: command) else { return }
        do {
            success(try session.setModificationTime(path, to: date))
        } catch {
            reply(for: error, command: command)
        }
    }

    // MARK: Listings

    func handleLIST(_ argument: String) {
        let now = Date()
        sendListing(argument, command: "LIST") { info, _ in FTPListingFormat.longLine(info, now: now) }
    }

    /// Names only. With a directory in the argument, names carry it (`dir/name`), so that what NLST
    /// returns can be fed back to RETR (Windows `mget dir/*`).
    func handleNLST(_ argument: String) {
        sendListing(argument, command: "NLST") { info, directoryPart in directoryPart + info.name }
    }

    func handleMLSD(_ argument: String) {
        let facts = selectedFacts
        sendListing(argument, command: "MLSD", directoriesOnly: true) { info, _ in
            FTPListingFormat.factLine(info, facts: facts)
        }
    }

    /// MLST (RFC 3659 §7.2): the facts of one entry on the control connection.
    func handleMLST(_ argument: String) {
        guard let session, let path = resolvePath(argument.isEmpty ? "." : argument, command: "MLST") else { return }
        do {
            let info = try session.stat(path)
            reply(.fileActionOkay, lines: ["Listing \(path)", FTPListingFormat.factLine(info, facts: selectedFacts, name: path.description), "End"])
        } catch {
            reply(for: error, command: "MLST")
        }
    }

    /// The data-connection listings: checks the target first (so a missing directory is a 550 before
    /// any data connection), then streams every page of it, one line per entry.
    private func sendListing(_ argument: String, command: String, directoriesOnly: Bool = false,
                             line: @escaping (FileInfo, String) -> String) {
        guard let session else { return }
        let request = FTPListRequest(argument: argument)
        guard let path = resolvePath(request.path, command: command) else { return }
        do {
            let info = try session.statExpectingDirectory(path)
            if directoriesOnly && !info.isDirectory {
                reply(for: .notADirectory(path.description), command: command)
                return
            }
        } catch {
            reply(for: error, command: command)
            return
        }
        let directoryPart: String
        if KeyBytes.containsSeparator(request.path), request.path != "." {
            directoryPart = KeyBytes.splitAtLastSeparator(request.path).directory
        } else if request.path != "." && request.pattern == nil {
            directoryPart = request.path + "/"
        } else {
            directoryPart = ""
        }
        runTransfer(.download, path: path, announcement: "Here comes the directory listing.",
                    completion: "Directory send OK.", logged: false) { (data, moved) throws(FTPTransferFailure) in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(65536)
            func flush() throws(FTPTransferFailure) {
                let outcome: Result<Void, FTPTransferFailure> = buffer.withUnsafeBytes { raw in
                    do throws(FTPTransferFailure) { try sendData(raw, over: data, progress: moved); return .success(()) }
                    catch { return .failure(error) }
                }
                try outcome.get()
                moved += UInt64(buffer.count)
                buffer.removeAll(keepingCapacity: true)
            }
            var interruption: FTPTransferFailure?
            do throws(SessionError) {
                try forEachListed(path, request: request, session: session, withTimes: command != "NLST") { info in
                    let prefix = info.name == path.name && !info.isDirectory && request.pattern == nil ? "" : directoryPart
                    buffer.append(contentsOf: line(info, prefix).utf8)
                    buffer.append(contentsOf: [0x0D, 0x0A])
                    if buffer.count >= 60_000 {
                        do throws(FTPTransferFailure) { try flush() } catch {
                            interruption = error
                            return false
                        }
                    }
                    return true
                }
            } catch {
                throw FTPTransferFailure.failed(error)
            }
            if let interruption { throw interruption }
            try flush()
        }
    }
}
