import Auth

/// One user of the converted configuration (from one `[COS_ACCOUNT_n]`).
struct CosUser {
    let section: String
    let name: String
    let passwordHash: String
    /// Index into the converted storages.
    let storage: Int
    let bucket: String
    let authority: Authority
    let mayDelete: Bool
}
