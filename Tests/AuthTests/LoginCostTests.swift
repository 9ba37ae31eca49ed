import Auth
import Foundation
import Testing

/// The verified-login cache, the hashing cap and the per-user session limit.
@Suite struct LoginCostTests {
    static let hash = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79"  // "correct horse"
    static let home = StorageBinding(storage: "local", bucket: "b", prefix: "")

    static func directory(cache: VerifiedLoginCache = VerifiedLoginCache(), maxSessions: Int = 0) -> UserDirectory {
        let alice = User(name: "alice", passwordHash: PasswordHash(hash: hash), sshKeys: [], home: home,
                         authority: .readWrite, mayDelete: true, folders: [], maxSessions: maxSessions)
        return UserDirectory(users: [alice], defender: LoginDefender(maxFailures: 100, banTime: 60), failureDelay: 0,
                             loginCache: cache)
    }

    /// CPU time of the calling thread (other tests run in parallel on other threads).
    static func cpuSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// A second login with the same credentials costs no hash; the cache keeps no password.
    @Test func aRepeatedLoginSkipsTheHash() throws {
        let cache = VerifiedLoginCache(lifetime: 60)
        let users = Self.directory(cache: cache)
        #expect((try? users.authenticate(name: "alice", password: "correct horse", from: "a", service: "ftp").get()) != nil)
        #expect(cache.count == 1)
        let before = Self.cpuSeconds()
        for _ in 0..<50 {
            #expect((try? users.authenticate(name: "alice", password: "correct horse", from: "a", service: "ftp").get()) != nil)
        }
        let cached = Self.cpuSeconds() - before
        // 50 yescrypt runs take about a second of CPU; 50 cache hits a few milliseconds.
        #expect(cached < 0.25, "50 cached logins cost \(cached) s of CPU")
        // A wrong password is still wrong, and it drops alice's entry: the next right one is hashed.
        #expect(users.authenticate(name: "alice", password: "correct horsE", from: "a", service: "ftp").failureValue == .wrongPassword)
        #expect(cache.count == 0)
        #expect((try? users.authenticate(name: "alice", password: "correct horse", from: "a", service: "ftp").get()) != nil)
        #expect(cache.count == 1)
    }

    @Test func entriesExpire() throws {
        let cache = VerifiedLoginCache(lifetime: 0.2)
        let users = Self.directory(cache: cache)
        _ = users.authenticate(name: "alice", password: "correct horse", from: "a", service: "ftp")
        Thread.sleep(forTimeInterval: 0.3)
        let before = Self.cpuSeconds()
        #expect((try? users.authenticate(name: "alice", password: "correct horse", from: "a", service: "ftp").get()) != nil)
        #expect(Self.cpuSeconds() - before > 0.005, "an expired entry must cost a real verification")
    }

    @Test func aNewDirectoryHasANewCache() throws {
        let first = Self.directory()
        _ = first.authenticate(name: "alice", password: "correct horse", from: "a", service: "ftp")
        #expect(first.loginCache.count == 1)
        #expect(Self.directory().loginCache.count == 0)  // a reload builds a new directory
    }

    @Test func sessionsAreCountedPerUser() throws {
        let users = Self.directory(maxSessions: 2)
        let alice = try #require(users.user(named: "alice"))
        let first = try #require(users.sessions.open(for: alice))
        let second = try #require(users.sessions.open(for: alice))
        #expect(users.sessions.open(for: alice) == nil)
        first.release()
        first.release()  // once only
        #expect(users.sessions.sessions(of: "alice") == 1)
        let third = users.sessions.open(for: alice)
        #expect(third != nil)
        _ = second
        var unlimited = alice
        unlimited.maxSessions = 0
        let many = (0..<50).compactMap { _ in users.sessions.open(for: unlimited) }
        #expect(many.count == 50)
    }
}
