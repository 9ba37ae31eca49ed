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

/// Builds one ListObjectsV2-shaped page from keys visited in UTF-8 order, rolling keys up into common
/// prefixes when a delimiter is given and stopping after `limit` entries.
struct ListPageBuilder {
    let prefix: String
    let delimiter: Character?
    let cursor: ListCursor?
    let limit: Int
    private(set) var objects: [ObjectMetadata] = []
    private(set) var commonPrefixes: [String] = []
    private(set) var lastEmitted: String?
    private(set) var isFull = false
    private var overflow = false

    init(prefix: String, delimiter: Character?, cursor: ListCursor?, limit: Int) {
        self.prefix = prefix
        self.delimiter = delimiter
        self.cursor = cursor
        self.limit = max(1, min(limit, 1000))
    }

    /// Offers the next key in order. Returns false once the page is complete (one more entry was
    /// seen, so a next page exists).
    mutating func offer(_ metadata: ObjectMetadata) -> Bool {
        let key = metadata.key.key
        guard KeyBytes.hasPrefix(key, prefix) else { return true }
        if let delimiter {
            let rest = key.utf8.dropFirst(prefix.utf8.count)
            if let index = rest.firstIndex(of: delimiter.asciiValue ?? UInt8(ascii: "/")) {
                let rolled = String(decoding: key.utf8[..<key.utf8.index(after: index)], as: UTF8.self)
                if rolled == lastEmitted { return true }
                guard KeyOrder.isAfter(rolled, cursor: cursor) else { return true }
                return emit(rolled) { $0.commonPrefixes.append(rolled) }
            }
        }
        guard KeyOrder.isAfter(key, cursor: cursor) else { return true }
        return emit(key) { $0.objects.append(metadata) }
    }

    private mutating func emit(_ key: String, _ add: (inout ListPageBuilder) -> Void) -> Bool {
        if objects.count + commonPrefixes.count >= limit {
            overflow = true
            isFull = true
            return false
        }
        add(&self)
        lastEmitted = key
        return true
    }

    var page: ListPage {
        ListPage(objects: objects, commonPrefixes: commonPrefixes,
                 next: overflow ? lastEmitted.map { ListCursor(token: $0) } : nil)
    }
}
