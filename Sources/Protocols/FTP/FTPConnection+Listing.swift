import Foundation

extension FTPConnection {
    /// Visits what a LIST-like argument names (`path` is `request.path` resolved): a directory's
    /// entries (filtered by the request's pattern), or the one file it names. `withTimes: false`
    /// for a listing that shows names only (NLST): no stored time is read for it.
    func forEachListed(_ path: VirtualPath, request: FTPListRequest, session: Session, withTimes: Bool = true,
                       _ visit: (FileInfo) throws -> Bool) throws(SessionError) {
        do {
            try session.listDirectory(path, withTimes: withTimes) { info in
                guard request.matches(info.name) else { return true }
                return try visit(info)
            }
        } catch .notADirectory where request.pattern == nil {
            let info = try session.stat(path)
            do {
                _ = try visit(info)
            } catch let error as SessionError {
                throw error
            } catch {
                throw .storage(.aborted)
            }
        }
    }
}
