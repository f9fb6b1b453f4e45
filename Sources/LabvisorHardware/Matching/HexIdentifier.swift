/// Parsing of the USB vendor and product ids written in manifests.
enum HexIdentifier {
    /// `text` as four lowercase hex digits (the form `DeviceIdentity` and sysfs use), or
    /// `nil` when it is not exactly four hex digits ("0403", "FAF0"; not "0x0403", not "403").
    static func normalized(_ text: String) -> String? {
        guard text.count == 4, text.allSatisfy(\.isHexDigit) else { return nil }
        return text.lowercased()
    }
}
