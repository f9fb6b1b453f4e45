import LabvisorCore

extension LabvisorError {
    /// A driver manifest is malformed: `file` names the manifest, `key` the key path inside
    /// it ("match[0].vendor_id", 0-based array indices), `reason` says why, `line` (1-based) is
    /// given when known (see `DriverManifestParser`). Code
    /// `invalidArgument`, fields `file`, `key`, `reason` and `line` when known.
    public static func invalidManifest(file: String, key: String, reason: String, line: Int? = nil) -> LabvisorError {
        invalidTOML(document: "driver manifest", file: file, key: key, reason: reason, line: line)
    }

    /// A TOML document (`document`: "driver manifest", "configuration") is malformed: `file`
    /// names it, `key` the key path inside it, `reason` says why, `line` (1-based) when known.
    /// Code `invalidArgument`, fields `file`, `key`, `reason` and `line` when known.
    public static func invalidTOML(document: String, file: String, key: String, reason: String, line: Int? = nil) -> LabvisorError {
        var fields: [String: JSONValue] = ["file": .string(file), "key": .string(key), "reason": .string(reason)]
        var location = file
        if let line {
            fields["line"] = .int(line)
            location += ":\(line)"
        }
        return LabvisorError(
            .invalidArgument, "invalid \(document) \(location): \(key.isEmpty ? "" : "\(key): ")\(reason)",
            fields: fields)
    }
}
