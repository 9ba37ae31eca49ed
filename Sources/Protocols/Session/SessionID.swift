/// A short random id for one client connection (`session` in every log line it causes), so that the
/// lines of one session can be picked out of a busy log, in text and in JSON.
enum SessionID {
    static func make() -> String {
        let value = UInt32.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}
