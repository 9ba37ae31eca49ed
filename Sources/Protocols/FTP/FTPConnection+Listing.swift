import Foundation

extension FTPConnection {
    /// Visits what a LIST-like argument names (`path` is `request.path` resolved): a directory's
    /// entries (filtered by the request's pattern), or the one file it names. `withTimes: false`
    /// for a listing that shows names only (NLST): no stored time is read for it.
    func forEachListed(_ path: VirtualPath, request: FTPListRequest, session: Session, withTimes: Bool = true,
                       _ visit: (FileInfo) throws -> Bool) throws(SessionError) {
        do {
            // The pattern filters inside the listing, so no time is read for a name it leaves out.
            try session.listDirectory(path, withTimes: withTimes, including: request.matches, visit)
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
