import PathRules

public extension KeyBytes {
    /// The components of a key below a bucket, each checked to be a plain name; a trailing `/` (a
    /// directory marker) is allowed. This is what keeps a key inside its bucket in drivers that map
    /// keys to a hierarchy of their own (the local directory driver).
    static func plainComponents(ofKey key: String) throws(StorageError) -> [String] {
        var bytes = Substring(key).utf8[...]
        if bytes.last == separator { bytes = bytes.dropLast() }
        if bytes.isEmpty { return [] }
        var components: [String] = []
        for component in bytes.split(separator: separator, omittingEmptySubsequences: false) {
            if let problem = problem(withName: component) {
                throw .invalidKey(detail: "key \(key.debugDescription) has a component that is not a plain name (\(problem))")
            }
            components.append(String(decoding: component, as: UTF8.self))
        }
        return components
    }
}
