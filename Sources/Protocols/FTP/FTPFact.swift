/// MLST/MLSD facts Ferry reports (RFC 3659 §7.5).
enum FTPFact: String, CaseIterable, Sendable {
    case type
    case size
    case modify
    case perm

    var name: String { rawValue }
    static let defaultSelection = Set(allCases)
}
