import LabvisorCore

extension LabvisorError {
    /// A driver manifest is malformed: `file` names the manifest, `key` the key path inside
    /// it ("match[0].vendor_id", 0-based array indices), `reason` says why, `line` (1-based) is
    /// given when known (see `DriverManifestParser`). Code
    /// `invalidArgument`, fields `file`, `key`, `reason` and `line` when known.
    public static func invalidManifest(file: String, key: String, reason: String, line: Int? = nil) -> LabvisorError {
        var fields: [String: JSONValue] = ["file": .string(file), "key": .string(key), "reason": .string(reason)]
        var location = file
        if let line {
            fields["line"] = .int(line)
            location += ":\(line)"
        }
        return LabvisorError(
            .invalidArgument, "invalid driver manifest \(location): \(key.isEmpty ? "" : "\(key): ")\(reason)",
            fields: fields)
    }
}
