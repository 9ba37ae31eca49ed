import Auth
import Foundation
import Testing

@Suite struct PasswordHashTests {
    /// Hashes of "correct horse" made with libxcrypt by Python's crypt module, one per scheme.
    static let vectors = [
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79",
        "$6$rounds=5000$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0",
        "$5$saltsalt$myjXcpMpE2Ofk7fj9hqyNYSn6lmWG4Mqnjx.KIRRr4/",
        "$2b$05$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2",
    ]

    @Test(arguments: vectors)
    func verifiesEachScheme(_ hash: String) throws {
        let stored = try #require(PasswordHash(hash: hash))
        #expect(stored.verify("correct horse"))
        #expect(!stored.verify("correct horsf"))
        #expect(!stored.verify(""))
        #expect(!stored.verify("correct horse "))
    }

    @Test func refusesWeakOrUnknownSchemes() {
        #expect(PasswordHash(hash: "$1$saltsalt$abcdefghijklmnopqrstuv") == nil)   // MD5-crypt
        #expect(PasswordHash(hash: "abJnggxhB/yWI") == nil)                        // DES
        #expect(PasswordHash(hash: "plaintext") == nil)
        #expect(PasswordHash(hash: "$y$") == nil)
    }

    @Test func hashPasswordMakesVerifiableYescrypt() throws {
        let hash = try #require(PasswordHash.make("s3cret pass"))
        #expect(hash.hasPrefix("$y$"))
        let other = try #require(PasswordHash.make("s3cret pass"))
        #expect(hash != other)  // fresh salt every time
        #expect(PasswordHash(hash: hash)?.verify("s3cret pass") == true)
        #expect(PasswordHash(hash: hash)?.verify("s3cret pasS") == false)
    }

    @Test func plainPasswordsCompareExactly() {
        let plain = PasswordHash(plain: "legacy")
        #expect(plain.isPlain)
        #expect(plain.verify("legacy"))
        #expect(!plain.verify("legacy2"))
        #expect(!plain.verify("Legacy"))
    }
}

@Suite struct AuthorityTests {
    @Test func parsesConfigSpellings() {
        #expect(Authority(configValue: "RO") == .readOnly)
        #expect(Authority(configValue: "r") == .readOnly)
        #expect(Authority(configValue: "W") == .writeOnly)
        #expect(Authority(configValue: "wo") == .writeOnly)
        #expect(Authority(configValue: "RW") == .readWrite)
        #expect(Authority(configValue: "RX") == nil)
        #expect(Authority(configValue: "") == nil)
    }

    @Test func parsesBindings() throws {
        let home = try #require(StorageBinding(parsing: "cos:team-bucket-1250000000/alice"))
        #expect(home.storage == "cos")
        #expect(home.bucket == "team-bucket-1250000000")
        #expect(home.prefix == "alice/")
        #expect(StorageBinding(parsing: "cos:bucket")?.prefix == "")
        #expect(StorageBinding(parsing: "cos:bucket/")?.prefix == "")
        #expect(StorageBinding(parsing: "cos:bucket/a/b/")?.prefix == "a/b/")
        #expect(StorageBinding(parsing: "nocolon") == nil)
        #expect(StorageBinding(parsing: "cos:") == nil)
        #expect(StorageBinding(parsing: "cos:bucket/../other") == nil)
        #expect(StorageBinding(parsing: "cos:bucket/a//b") == nil)
    }
}

@Suite struct SSHPublicKeyTests {
    static let ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINFlTrb1dZY/5mZIpWmemuR33jeVnZEWxJB2DG4/mMWD alice@laptop"

    @Test func parsesAnAuthorizedKeysLine() throws {
        let key = try SSHPublicKey(parsing: Self.ed25519)
        #expect(key.algorithm == "ssh-ed25519")
        #expect(key.comment == "alice@laptop")
        #expect(key.blob.count == 51)
    }

    @Test func rejectsMalformedKeys() {
        #expect(throws: SSHPublicKey.ParseError.malformed) { try SSHPublicKey(parsing: "ssh-ed25519") }
        #expect(throws: SSHPublicKey.ParseError.unsupportedAlgorithm("ssh-dss")) { try SSHPublicKey(parsing: "ssh-dss AAAA") }
        #expect(throws: SSHPublicKey.ParseError.badBase64) { try SSHPublicKey(parsing: "ssh-ed25519 !!!notbase64") }
        // The blob says ed25519 but the line says rsa.
        let mismatched = Self.ed25519.replacingOccurrences(of: "ssh-ed25519 ", with: "ssh-rsa ")
        #expect(throws: SSHPublicKey.ParseError.algorithmMismatch(declared: "ssh-rsa", embedded: "ssh-ed25519")) {
            try SSHPublicKey(parsing: mismatched)
        }
    }
}

@Suite struct LoginDefenderTests {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_000_000)
    }

    @Test func bansAfterTheConfiguredFailuresWithinTheWindow() {
        let clock = Clock()
        let defender = LoginDefender(maxFailures: 3, banTime: 60, now: { clock.now })
        #expect(!defender.recordFailure("10.0.0.1"))
        #expect(!defender.recordFailure("10.0.0.1"))
        #expect(!defender.isBanned("10.0.0.1"))
        #expect(defender.recordFailure("10.0.0.1"))
        #expect(defender.isBanned("10.0.0.1"))
        #expect(!defender.isBanned("10.0.0.2"))
        clock.now += 59
        #expect(defender.isBanned("10.0.0.1"))
        clock.now += 2
        #expect(!defender.isBanned("10.0.0.1"))
    }

    @Test func failuresOutsideTheWindowDoNotCount() {
        let clock = Clock()
        let defender = LoginDefender(maxFailures: 2, banTime: 60, now: { clock.now })
        defender.recordFailure("a")
        clock.now += 61
        #expect(!defender.recordFailure("a"))
        #expect(!defender.isBanned("a"))
    }

    @Test func successResetsTheCount() {
        let defender = LoginDefender(maxFailures: 2, banTime: 60)
        defender.recordFailure("a")
        defender.recordSuccess("a")
        #expect(!defender.recordFailure("a"))
    }

    @Test func zeroDisablesBanning() {
        let defender = LoginDefender(maxFailures: 0, banTime: 60)
        for _ in 0..<10 { defender.recordFailure("a") }
        #expect(!defender.isBanned("a"))
    }
}

@Suite struct UserDirectoryTests {
    static func directory() -> UserDirectory {
        let home = StorageBinding(storage: "local", bucket: "b", prefix: "")
        let alice = User(name: "alice", passwordHash: PasswordHash(plain: "pw"), sshKeys: [], home: home,
                         authority: .readWrite, mayDelete: true, folders: [])
        let keyOnly = User(name: "bob", passwordHash: nil, sshKeys: [], home: home, authority: .readOnly,
                           mayDelete: false, folders: [])
        return UserDirectory(users: [alice, keyOnly], defender: LoginDefender(maxFailures: 3, banTime: 60), failureDelay: 0)
    }

    @Test func authenticatesAndFeedsTheDefender() {
        let users = Self.directory()
        #expect((try? users.authenticate(name: "alice", password: "pw", from: "1.1.1.1", service: "ftp").get())?.name == "alice")
        #expect(users.authenticate(name: "alice", password: "no", from: "1.1.1.1", service: "ftp").failureValue == .wrongPassword)
        #expect(users.authenticate(name: "mallory", password: "pw", from: "1.1.1.1", service: "ftp").failureValue == .unknownUser)
        #expect(users.authenticate(name: "bob", password: "", from: "1.1.1.1", service: "ftp").failureValue == .noPasswordConfigured)
        #expect(users.defender.isBanned("1.1.1.1"))
        #expect(users.authenticate(name: "alice", password: "pw", from: "1.1.1.1", service: "ftp").failureValue == .banned)
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// A scripted identity service for the directory's decision order (the HTTP one is tested in
/// GatewayTests and with a real service in the integration tests).
final class ScriptedIdentityService: IdentityService, @unchecked Sendable {
    private let lock = NSLock()
    private var asked: [IdentityQuery] = []
    let answer: @Sendable (IdentityQuery) -> IdentityAnswer

    init(_ answer: @escaping @Sendable (IdentityQuery) -> IdentityAnswer) { self.answer = answer }

    func ask(_ query: IdentityQuery) -> IdentityAnswer {
        lock.lock(); asked.append(query); lock.unlock()
        return answer(query)
    }

    var questions: [IdentityQuery] { lock.lock(); defer { lock.unlock() }; return asked }
}

@Suite struct IdentityServiceDirectoryTests {
    static let home = StorageBinding(storage: "local", bucket: "b", prefix: "")
    static let alice = User(name: "alice", passwordHash: PasswordHash(plain: "pw"), sshKeys: [], home: home,
                            authority: .readWrite, mayDelete: true, folders: [])

    static func directory(_ service: ScriptedIdentityService, fileFirst: Bool = true, ttl: TimeInterval = 60) -> UserDirectory {
        UserDirectory(users: [alice], defender: LoginDefender(maxFailures: 3, banTime: 60), failureDelay: 0,
                      identity: service, fileUsersFirst: fileFirst, identityCache: IdentityAnswerCache(lifetime: ttl))
    }

    static let carol = User(name: "carol", passwordHash: nil, sshKeys: [], home: home, authority: .readOnly,
                            mayDelete: false, folders: [])

    static func allowCarol() -> ScriptedIdentityService {
        ScriptedIdentityService { query in
            if query.user == "carol", case .password("right") = query.credential { return .allowed(carol) }
            if query.user == "carol", case .publicKey(let blob) = query.credential, blob == [1, 2, 3] { return .allowed(carol) }
            if query.user == "slow" { return .failed(reason: "timeout") }
            return .denied(reason: "no")
        }
    }

    @Test func serviceDecidesUsersTheFileDoesNotHave() {
        let service = Self.allowCarol()
        let users = Self.directory(service)
        #expect((try? users.authenticate(name: "carol", password: "right", from: "a", service: "ftp").get())?.authority == .readOnly)
        #expect(users.authenticate(name: "carol", password: "wrong", from: "a", service: "ftp").failureValue
                == .deniedByIdentityService(reason: "no"))
        #expect(users.authenticate(name: "slow", password: "x", from: "b", service: "sftp").failureValue
                == .identityServiceFailed(reason: "timeout"))
        #expect((try? users.authorizedKey(name: "carol", blob: [1, 2, 3], from: "c", service: "sftp").get())?.name == "carol")
        #expect(users.authorizedKey(name: "carol", blob: [9], from: "c", service: "sftp").failureValue == .deniedByIdentityService(reason: "no"))
        // The file's user is decided by the file: the service is never asked about alice.
        #expect((try? users.authenticate(name: "alice", password: "pw", from: "d", service: "ftp").get()) != nil)
        #expect(users.authenticate(name: "alice", password: "no", from: "d", service: "ftp").failureValue == .wrongPassword)
        #expect(!service.questions.contains { $0.user == "alice" })
    }

    @Test func serviceFirstFallsBackToTheFile() {
        let service = Self.allowCarol()
        let users = Self.directory(service, fileFirst: false)
        #expect((try? users.authenticate(name: "alice", password: "pw", from: "a", service: "ftp").get())?.name == "alice")
        #expect(service.questions.map(\.user) == ["alice"])
    }

    @Test func cacheAnswersTheSameQuestionOnlyAndForgetsAfterAFailure() {
        let service = Self.allowCarol()
        let users = Self.directory(service)
        for _ in 0..<3 { _ = users.authenticate(name: "carol", password: "right", from: "a", service: "ftp") }
        #expect(service.questions.count == 1 && users.identityCache.count == 1)
        _ = users.authenticate(name: "carol", password: "right", from: "a", service: "sftp")  // another protocol
        _ = users.authenticate(name: "carol", password: "right", from: "b", service: "ftp")   // another address
        #expect(service.questions.count == 3)
        _ = users.authenticate(name: "carol", password: "wrong", from: "a", service: "ftp")
        #expect(users.identityCache.count == 0)
        _ = users.authenticate(name: "carol", password: "right", from: "a", service: "ftp")
        #expect(service.questions.count == 5)
        let uncached = Self.directory(Self.allowCarol(), ttl: 0)
        for _ in 0..<2 { _ = uncached.authenticate(name: "carol", password: "right", from: "a", service: "ftp") }
        #expect(uncached.identityCache.count == 0)
    }

    @Test func refusalsFeedTheDefender() {
        let service = Self.allowCarol()
        let users = Self.directory(service)
        for _ in 0..<3 { _ = users.authenticate(name: "carol", password: "wrong", from: "e", service: "ftp") }
        #expect(users.defender.isBanned("e"))
        let asked = service.questions.count
        #expect(users.authenticate(name: "carol", password: "right", from: "e", service: "ftp").failureValue == .banned)
        #expect(service.questions.count == asked)
    }
}
