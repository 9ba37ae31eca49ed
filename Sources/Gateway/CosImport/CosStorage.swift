/// One S3 storage of the converted configuration: the COS service (endpoint, region, keys) that one
/// or more accounts reach.
struct CosStorage {
    let endpoint: String
    let region: String
    let secretID: String
    let secretKey: String
    /// Set once every account is read: `cos`, or `cos-1`, `cos-2`, … when there are several.
    var name = ""
    /// "" or `_1`, `_2`, … after COS_SECRET_ID / COS_SECRET_KEY.
    var variableSuffix = ""

    init(account: CosAccount) {
        endpoint = account.endpoint
        region = account.region
        secretID = account.secretID
        secretKey = account.secretKey
    }

    func sameService(as account: CosAccount) -> Bool {
        endpoint == account.endpoint && region == account.region && secretID == account.secretID && secretKey == account.secretKey
    }
}
