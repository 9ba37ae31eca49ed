import PathRules

/// Key ordering and listing helpers shared by the drivers that list by themselves (local, in-memory).
enum KeyOrder {
    /// S3 orders keys by their UTF-8 bytes; Swift's `<` on String does not.
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Whether a listing resumed after `cursor` still includes `key`.
    static func isAfter(_ key: String, cursor: ListCursor?) -> Bool {
        guard let cursor else { return true }
        return precedes(cursor.token, key)
    }
}
