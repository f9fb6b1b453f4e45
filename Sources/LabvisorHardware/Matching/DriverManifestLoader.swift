import Foundation
import LabvisorCore

/// Reads every `<dir>/<id>/driver.toml` under the directories of a search path.
///
/// Folders without a `driver.toml` are passed over (a search path may hold other things);
/// a `driver.toml` that fails to parse is an error, and so is the same driver id in two
/// directories of the search path. Manifests come back sorted by id.
public enum DriverManifestLoader {
    /// Loads the manifests under every directory of `searchPath`. A directory that does not
    /// exist is an error (`invalidArgument`, fields `file`, `key` "", `reason`).
    public static func load(searchPath: [String]) throws(LabvisorError) -> [DriverManifest] {
        var byID: [String: DriverManifest] = [:]
        for directory in searchPath {
            for manifest in try load(directory: directory) {
                if let earlier = byID[manifest.id] {
                    throw LabvisorError.invalidManifest(
                        file: manifest.file, key: "id",
                        reason: "driver '\(manifest.id)' is already defined by \(earlier.file)")
                }
                byID[manifest.id] = manifest
            }
        }
        return byID.values.sorted { $0.id < $1.id }
    }

    /// Loads the manifests of the driver folders directly under `directory`.
    public static func load(directory: String) throws(LabvisorError) -> [DriverManifest] {
        let files = FileManager.default
        let entries: [String]
        do {
            entries = try files.contentsOfDirectory(atPath: directory)
        } catch {
            throw LabvisorError.invalidManifest(file: directory, key: "", reason: "cannot list the driver directory: \(error.localizedDescription)")
        }
        var manifests: [DriverManifest] = []
        for entry in entries.sorted() where !entry.hasPrefix(".") {
            let folder = (directory as NSString).appendingPathComponent(entry)
            let path = (folder as NSString).appendingPathComponent("driver.toml")
            var isDirectory: ObjCBool = false
            guard files.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
                files.fileExists(atPath: path)
            else { continue }
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw LabvisorError.invalidManifest(file: path, key: "", reason: "cannot read: \(error.localizedDescription)")
            }
            manifests.append(try DriverManifestParser.parse(text, file: path, folderName: entry))
        }
        return manifests
    }
}
