
/// The FTP command table (RFC 959, 2228, 2389, 2428, 3659, 4217).
enum FTPCommandTable {
    static let commands: [FTPCommandSpec] = [
        // Access control (RFC 959 §4.1.1)
        .init(verb: "USER", aliases: [], allowedBeforeLogin: true, argument: .required, help: "USER <name>") { $0.handleUSER($1) },
        .init(verb: "PASS", aliases: [], allowedBeforeLogin: true, argument: .optional, help: "PASS <password>",
              masksArgument: true) { $0.handlePASS($1) },
        .init(verb: "QUIT", aliases: [], allowedBeforeLogin: true, argument: .none, help: "QUIT") { c, _ in c.handleQUIT() },
        // TVFS: paths are `/`-separated names below one root (RFC 3659 §6).
        .init(verb: "CWD", aliases: ["XCWD"], allowedBeforeLogin: false, argument: .required, help: "CWD <path>",
              feature: .always("TVFS")) { $0.handleCWD($1) },
        .init(verb: "CDUP", aliases: ["XCUP"], allowedBeforeLogin: false, argument: .none, help: "CDUP") { c, _ in c.handleCDUP() },
        // Transfer parameters (§4.1.2, RFC 2428)
        .init(verb: "TYPE", aliases: [], allowedBeforeLogin: false, argument: .required, help: "TYPE A|I") { $0.handleTYPE($1) },
        .init(verb: "MODE", aliases: [], allowedBeforeLogin: false, argument: .required, help: "MODE S") { $0.handleMODE($1) },
        .init(verb: "STRU", aliases: [], allowedBeforeLogin: false, argument: .required, help: "STRU F") { $0.handleSTRU($1) },
        .init(verb: "PASV", aliases: [], allowedBeforeLogin: false, argument: .none, help: "PASV", feature: .always("PASV")) { c, _ in c.handlePASV() },
        .init(verb: "EPSV", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "EPSV [1|2|ALL]",
              feature: .always("EPSV")) { $0.handleEPSV($1) },
        .init(verb: "PORT", aliases: [], allowedBeforeLogin: false, argument: .required, help: "PORT h1,h2,h3,h4,p1,p2") { $0.handlePORT($1) },
        .init(verb: "EPRT", aliases: [], allowedBeforeLogin: false, argument: .required, help: "EPRT |af|addr|port|",
              feature: .always("EPRT")) { $0.handleEPRT($1) },
        // Service commands (§4.1.3, RFC 3659)
        .init(verb: "RETR", aliases: [], allowedBeforeLogin: false, argument: .required, help: "RETR <path>") { $0.handleRETR($1) },
        .init(verb: "STOR", aliases: [], allowedBeforeLogin: false, argument: .required, help: "STOR <path>") { $0.handleSTOR($1) },
        .init(verb: "STOU", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "STOU") { $0.handleSTOU($1) },
        .init(verb: "APPE", aliases: [], allowedBeforeLogin: false, argument: .required, help: "APPE <path>") { $0.handleAPPE($1) },
        .init(verb: "REST", aliases: [], allowedBeforeLogin: false, argument: .required, help: "REST <offset>",
              feature: .always("REST STREAM")) { $0.handleREST($1) },
        .init(verb: "ALLO", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "ALLO <size>") { c, _ in c.handleALLO() },
        .init(verb: "SITE", aliases: [], allowedBeforeLogin: false, argument: .required, help: "SITE CHMOD <mode> <path> | SITE HELP") { $0.handleSITE($1) },
        .init(verb: "ABOR", aliases: [], allowedBeforeLogin: false, argument: .none, help: "ABOR",
              duringTransfer: .abortsTheTransfer) { c, _ in c.handleABOR() },
        .init(verb: "RNFR", aliases: [], allowedBeforeLogin: false, argument: .required, help: "RNFR <path>") { $0.handleRNFR($1) },
        .init(verb: "RNTO", aliases: [], allowedBeforeLogin: false, argument: .required, help: "RNTO <path>",
              mustFollow: "RNFR") { $0.handleRNTO($1) },
        .init(verb: "DELE", aliases: [], allowedBeforeLogin: false, argument: .required, help: "DELE <path>") { $0.handleDELE($1) },
        .init(verb: "RMD", aliases: ["XRMD"], allowedBeforeLogin: false, argument: .required, help: "RMD <path>") { $0.handleRMD($1) },
        .init(verb: "MKD", aliases: ["XMKD"], allowedBeforeLogin: false, argument: .required, help: "MKD <path>") { $0.handleMKD($1) },
        .init(verb: "PWD", aliases: ["XPWD"], allowedBeforeLogin: false, argument: .none, help: "PWD") { c, _ in c.handlePWD() },
        .init(verb: "LIST", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "LIST [path]") { $0.handleLIST($1) },
        .init(verb: "NLST", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "NLST [path]") { $0.handleNLST($1) },
        .init(verb: "MLSD", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "MLSD [path]") { $0.handleMLSD($1) },
        .init(verb: "MLST", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "MLST [path]",
              feature: .mlstFacts) { $0.handleMLST($1) },
        .init(verb: "SIZE", aliases: [], allowedBeforeLogin: false, argument: .required, help: "SIZE <path>",
              feature: .always("SIZE")) { $0.handleSIZE($1) },
        .init(verb: "MDTM", aliases: [], allowedBeforeLogin: false, argument: .required, help: "MDTM <path>",
              feature: .always("MDTM")) { $0.handleMDTM($1) },
        .init(verb: "MFMT", aliases: [], allowedBeforeLogin: false, argument: .required, help: "MFMT <YYYYMMDDHHMMSS> <path>",
              feature: .always("MFMT")) { $0.handleMFMT($1) },
        // Checksums (draft-bryan-ftpext-hash-02; the older X commands of ProFTPD's mod_digest and others)
        .init(verb: "HASH", aliases: [], allowedBeforeLogin: false, argument: .required, help: "HASH <path>",
              feature: .hashAlgorithms) { $0.handleHASH($1) },
        .init(verb: "XMD5", aliases: [], allowedBeforeLogin: false, argument: .required, help: "XMD5 <path>",
              feature: .always("XMD5")) { $0.handleXHash($1, .md5, verb: "XMD5") },
        .init(verb: "XSHA1", aliases: [], allowedBeforeLogin: false, argument: .required, help: "XSHA1 <path>",
              feature: .always("XSHA1")) { $0.handleXHash($1, .sha1, verb: "XSHA1") },
        .init(verb: "XSHA256", aliases: [], allowedBeforeLogin: false, argument: .required, help: "XSHA256 <path>",
              feature: .always("XSHA256")) { $0.handleXHash($1, .sha256, verb: "XSHA256") },
        .init(verb: "XCRC", aliases: [], allowedBeforeLogin: false, argument: .required, help: "XCRC <path>",
              feature: .always("XCRC")) { $0.handleXHash($1, .crc32, verb: "XCRC") },
        .init(verb: "SYST", aliases: [], allowedBeforeLogin: true, argument: .none, help: "SYST") { c, _ in c.handleSYST() },
        .init(verb: "STAT", aliases: [], allowedBeforeLogin: false, argument: .optional, help: "STAT [path]",
              duringTransfer: .reportsProgress) { $0.handleSTAT($1) },
        .init(verb: "HELP", aliases: [], allowedBeforeLogin: true, argument: .optional, help: "HELP") { $0.handleHELP($1) },
        .init(verb: "NOOP", aliases: [], allowedBeforeLogin: true, argument: .none, help: "NOOP") { c, _ in c.handleNOOP() },
        .init(verb: "FEAT", aliases: [], allowedBeforeLogin: true, argument: .none, help: "FEAT") { c, _ in c.handleFEAT() },
        // UTF8 (RFC 2640): OPTS UTF8 ON is accepted; paths are always UTF-8.
        .init(verb: "OPTS", aliases: [], allowedBeforeLogin: true, argument: .required, help: "OPTS UTF8 ON | MLST facts | HASH [algorithm]",
              feature: .always("UTF8")) { $0.handleOPTS($1) },
        // Security extensions (RFC 2228, RFC 4217)
        .init(verb: "AUTH", aliases: [], allowedBeforeLogin: true, argument: .required, help: "AUTH TLS",
              feature: .whereAuthTLSIsAccepted("AUTH TLS")) { $0.handleAUTH($1) },
        .init(verb: "PBSZ", aliases: [], allowedBeforeLogin: true, argument: .required, help: "PBSZ 0",
              feature: .whereTLSIsAvailable("PBSZ")) { $0.handlePBSZ($1) },
        .init(verb: "PROT", aliases: [], allowedBeforeLogin: true, argument: .required, help: "PROT P|C",
              feature: .whereTLSIsAvailable("PROT")) { $0.handlePROT($1) },
        .init(verb: "CCC", aliases: [], allowedBeforeLogin: false, argument: .none, help: "CCC") { c, _ in c.handleCCC() },
    ]

    /// Verbs and aliases to rows.
    static let byVerb: [String: FTPCommandSpec] = {
        var table: [String: FTPCommandSpec] = [:]
        for spec in commands {
            table[spec.verb] = spec
            for alias in spec.aliases { table[alias] = spec }
        }
        return table
    }()

    /// Splits a command line into its upper-cased verb and its argument (everything after the first
    /// space, kept as sent: file names may contain spaces). Split on the byte 0x20, not on
    /// Characters: a space followed by a combining mark is one Character, and a name starting with
    /// one ("STOR \u{301}x") would otherwise not split at all.
    static func parse(_ line: String) -> (verb: String, argument: String) {
        let bytes = line.utf8
        let space = UInt8(ascii: " ")
        let start = bytes.firstIndex(where: { $0 != space }) ?? bytes.endIndex
        guard let end = bytes[start...].firstIndex(of: space) else {
            return (String(decoding: bytes[start...], as: UTF8.self).uppercased(), "")
        }
        return (String(decoding: bytes[start..<end], as: UTF8.self).uppercased(),
                String(decoding: bytes[bytes.index(after: end)...], as: UTF8.self))
    }
}
