/// The command line of a legacy scp transfer (`scp -O`, and every scp before OpenSSH 9): the client
/// runs `scp -t TARGET` (it sends, Ferry receives) or `scp -f PATH...` (Ferry sends) over an exec
/// channel. Only these flags are accepted; anything else is not an scp transfer and is refused.
struct SCPCommand: Equatable, Sendable {
    enum Direction: Equatable, Sendable {
        /// `-t`: the client uploads into `paths[0]`.
        case toServer
        /// `-f`: the client downloads `paths`.
        case fromServer
    }

    var direction: Direction
    /// `-r`: directories are copied recursively.
    var recursive = false
    /// `-p`: the client sends or wants modification times (accepted; object storage keeps its own).
    var preserveTimes = false
    /// `-d`: the target must be a directory.
    var targetIsDirectory = false
    var paths: [String]

    /// Parses `scp [-v] [-r] [-p] [-d] (-t|-f) [--] PATH...`, with POSIX shell quoting of the paths
    /// (OpenSSH quotes remote paths that need it). Nil for anything else.
    static func parse(_ command: String) -> SCPCommand? {
        guard let words = shellWords(command), words.first == "scp" else { return nil }
        var direction: Direction?
        var recursive = false, preserve = false, directory = false
        var paths: [String] = []
        var optionsEnded = false
        for word in words.dropFirst() {
            if !optionsEnded && word == "--" {
                optionsEnded = true
            } else if !optionsEnded && word.hasPrefix("-") && word.count > 1 {
                for flag in word.dropFirst() {
                    switch flag {
                    case "t": if direction == .fromServer { return nil } else { direction = .toServer }
                    case "f": if direction == .toServer { return nil } else { direction = .fromServer }
                    case "r": recursive = true
                    case "p": preserve = true
                    case "d": directory = true
                    case "v", "q": break
                    default: return nil
                    }
                }
            } else {
                paths.append(word)
            }
        }
        guard let direction, !paths.isEmpty else { return nil }
        if direction == .toServer && paths.count != 1 { return nil }
        return SCPCommand(direction: direction, recursive: recursive, preserveTimes: preserve,
                          targetIsDirectory: directory, paths: paths)
    }

    /// Splits a command line into words: blanks separate, '…' quotes literally, "…" quotes with
    /// backslash escapes, a backslash outside quotes escapes the next byte. Nil when a quote is left
    /// open. Works on bytes (every delimiter is ASCII), never on `Character`s, which would fuse a
    /// quote with a combining mark after it. No shell ever runs: the words are taken literally.
    static func shellWords(_ line: String) -> [String]? {
        var words: [String] = []
        var current: [UInt8] = []
        var inWord = false
        var iterator = Array(line.utf8).makeIterator()
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), single = UInt8(ascii: "'")
        let double = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        let escapableInDouble: Set<UInt8> = [double, backslash, UInt8(ascii: "$"), UInt8(ascii: "`")]
        while let byte = iterator.next() {
            switch byte {
            case space, tab:
                if inWord { words.append(String(decoding: current, as: UTF8.self)); current = []; inWord = false }
            case single:
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == single { closed = true; break }
                    current.append(next)
                }
                if !closed { return nil }
            case double:
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == double { closed = true; break }
                    if next == backslash, let escaped = iterator.next() {
                        if !escapableInDouble.contains(escaped) { current.append(backslash) }
                        current.append(escaped)
                    } else {
                        current.append(next)
                    }
                }
                if !closed { return nil }
            case backslash:
                inWord = true
                if let escaped = iterator.next() { current.append(escaped) }
            default:
                inWord = true
                current.append(byte)
            }
        }
        if inWord { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }
}
