/// Writing TOML values (TOML 1.0 §String): the one place that quotes text for the TOML Ferry
/// prints (`check-config`) and writes (`import-cos-config`).
enum TOMLText {
    /// A basic string: `"`, `\` and control characters escaped (`\n`, `\t`, `\uXXXX`), everything
    /// else as it is (TOML files are UTF-8).
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
