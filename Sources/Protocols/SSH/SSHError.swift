/// Why the SSH server cannot start or a host key cannot be made.
public enum SSHError: Error, CustomStringConvertible {
    case hostKey(path: String, reason: String)
    case generate(path: String, reason: String)
    case setup(String)

    public var description: String {
        switch self {
        case .hostKey(let path, let reason): "host key \(path): \(reason)"
        case .generate(let path, let reason): "cannot generate host key \(path): \(reason)"
        case .setup(let reason): "SSH setup: \(reason)"
        }
    }
}
