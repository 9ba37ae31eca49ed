/// A double-quoted string literal that is valid both as a TOML 1.0 basic string and as a JSON string
/// (RFC 8259 §7): `"` and `\` escaped, `\n`, `\t`, `\r`, other control characters and DEL as
/// `\uXXXX`, everything else as it is (both are UTF-8). The one quoter for the TOML Ferry writes
/// (`check-config`, `import-cos-config`) and the JSON log.
enum QuotedString {
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
