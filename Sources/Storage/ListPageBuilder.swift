import PathRules

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
