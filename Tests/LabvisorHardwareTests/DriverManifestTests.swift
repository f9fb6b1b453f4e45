import Foundation
import LabvisorCore
import LabvisorHardware
import Testing

@Suite struct DriverManifestTests {
    @Test func theReferenceManifestsLoad() throws {
        let manifests = try DriverManifestLoader.load(directory: RepositoryPaths.drivers)
        #expect(manifests.map(\.id) == ["coherent-obis", "example-heater", "thorlabs-apt", "uvc-camera", "zaber-ascii"])
        let byID = Dictionary(uniqueKeysWithValues: manifests.map { ($0.id, $0) })

        let zaber = try #require(byID["zaber-ascii"])
        #expect(zaber.kind == .stage)
        #expect(zaber.matchRules.first?.vendorID == "2939")
        #expect(
            zaber.transport
                == .serial(SerialTransport(settings: SerialSettings(baudRate: 115_200, dataBits: 8, parity: .none, stopBits: .one, flowControl: .none), lineEnding: "\n")))

        let thorlabs = try #require(byID["thorlabs-apt"])
        #expect(thorlabs.matchRules == [DriverMatchRule(vendorID: "0403", productID: "faf0")])
        #expect(thorlabs.transport == .serial(SerialTransport(settings: SerialSettings(baudRate: 115_200, flowControl: .rtsCts), lineEnding: nil)))

        let obis = try #require(byID["coherent-obis"])
        #expect(obis.kind == .laser)
        #expect(obis.safeState.method == "emissionOff")
        #expect(obis.transport == .serial(SerialTransport(settings: SerialSettings(baudRate: 115_200), lineEnding: "\r\n")))

        let uvc = try #require(byID["uvc-camera"])
        #expect(uvc.kind == .camera)
        #expect(uvc.matchRules == [DriverMatchRule(interfaceClass: 0x0e)])
        #expect(uvc.transport == .usb(USBSettings(interfaceClass: 0x0e, detachKernelDriver: true)))
        #expect(uvc.file.hasSuffix("drivers/uvc-camera/driver.toml"))
    }

    /// A valid manifest; each malformed case below edits one thing in it.
    static let valid = """
        id = "demo"
        kind = "stage"
        description = "a demo"

        [[match]]
        vendor_id = "0403"
        product_id = "6001"

        [transport]
        kind = "serial"
        baud = 115200

        [safe_state]
        description = "stopped"
        method = "stop"
        """

    @Test func theValidBaseParses() throws {
        let manifest = try DriverManifestParser.parse(Self.valid, file: "drivers/demo/driver.toml", folderName: "demo")
        #expect(manifest.id == "demo")
        #expect(manifest.matchRules == [DriverMatchRule(vendorID: "0403", productID: "6001")])
        #expect(manifest.safeState == SafeState(description: "stopped", method: "stop"))
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        var name: String
        var replace: String
        var with: String
        var folder: String = "demo"
        var key: String
        var reason: String
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        Malformed(name: "unknown top-level key", replace: "kind = \"stage\"", with: "kinf = \"x\"\nkind = \"stage\"", key: "kinf", reason: "unknown key"),
        Malformed(name: "unknown key in a match rule", replace: "product_id", with: "prodcut_id", key: "match[0].prodcut_id", reason: "unknown key"),
        Malformed(name: "unknown key in transport", replace: "baud = 115200", with: "baud = 115200\nbaudrate = 9600", key: "transport.baudrate", reason: "unknown key"),
        Malformed(name: "usb key in a serial transport", replace: "baud = 115200", with: "baud = 115200\nendpoint_in = 0x81", key: "transport.endpoint_in", reason: "unknown key"),
        Malformed(name: "unknown table", replace: "[safe_state]", with: "[safe_stat]\ndescription = \"x\"\n[safe_state]", key: "safe_stat", reason: "unknown key"),
        Malformed(name: "wrong type: baud as string", replace: "baud = 115200", with: "baud = \"115200\"", key: "transport.baud", reason: "expected an integer, found string"),
        Malformed(name: "wrong type: id as integer", replace: "id = \"demo\"", with: "id = 5", key: "id", reason: "expected a string"),
        Malformed(name: "wrong type: vendor id as integer", replace: "vendor_id = \"0403\"", with: "vendor_id = 0x0403", key: "match[0].vendor_id", reason: "expected a string"),
        Malformed(name: "wrong type: match as a table", replace: "[[match]]", with: "[match]", key: "match", reason: "expected an array of tables"),
        Malformed(name: "bad hex vendor id (0x prefix)", replace: "\"0403\"", with: "\"0x0403\"", key: "match[0].vendor_id", reason: "not 4 hex digits"),
        Malformed(name: "bad hex product id (not hex)", replace: "\"6001\"", with: "\"60G1\"", key: "match[0].product_id", reason: "not 4 hex digits"),
        Malformed(name: "bad hex vendor id (3 digits)", replace: "\"0403\"", with: "\"403\"", key: "match[0].vendor_id", reason: "not 4 hex digits"),
        Malformed(name: "missing id", replace: "id = \"demo\"", with: "", key: "id", reason: "missing required key"),
        Malformed(name: "id differs from folder", replace: "id = \"demo\"", with: "id = \"other\"", key: "id", reason: "differs from the driver's folder name 'demo'"),
        Malformed(name: "id not lowercase", replace: "id = \"demo\"", with: "id = \"Demo\"", folder: "Demo", key: "id", reason: "lowercase"),
        Malformed(name: "bad kind", replace: "kind = \"stage\"", with: "kind = \"motor\"", key: "kind", reason: "'motor' is not one of"),
        Malformed(name: "missing description", replace: "description = \"a demo\"", with: "", key: "description", reason: "missing required key"),
        Malformed(name: "bad glob: unterminated set", replace: "product_id = \"6001\"", with: "manufacturer = \"Zaber[\"", key: "match[0].manufacturer", reason: "no closing ']'"),
        Malformed(name: "bad glob: alternatives", replace: "product_id = \"6001\"", with: "serial = \"A1|A2\"", key: "match[0].serial", reason: "'|'"),
        Malformed(name: "bad glob: quote", replace: "product_id = \"6001\"", with: "product = 'say \"hi\"'", key: "match[0].product", reason: "not allowed"),
        Malformed(name: "bad glob: empty", replace: "product_id = \"6001\"", with: "serial = \"\"", key: "match[0].serial", reason: "empty"),
        Malformed(name: "bad udev_property: no '='", replace: "product_id = \"6001\"", with: "udev_property = \"ID_FOO\"", key: "match[0].udev_property", reason: "NAME=VALUE"),
        Malformed(name: "bad udev_property: name", replace: "product_id = \"6001\"", with: "udev_property = \"1-X=y\"", key: "match[0].udev_property", reason: "property name"),
        Malformed(name: "bad udev_property: value glob", replace: "product_id = \"6001\"", with: "udev_property = \"ID_X=[a\"", key: "match[0].udev_property", reason: "no closing ']'"),
        Malformed(name: "interface class out of range", replace: "product_id = \"6001\"", with: "interface_class = 300", key: "match[0].interface_class", reason: "out of range"),
        Malformed(name: "empty match rule", replace: "vendor_id = \"0403\"\nproduct_id = \"6001\"", with: "", key: "match[0]", reason: "at least one condition"),
        Malformed(name: "missing transport", replace: "[transport]\nkind = \"serial\"\nbaud = 115200", with: "", key: "transport", reason: "missing required key"),
        Malformed(name: "bad transport kind", replace: "kind = \"serial\"", with: "kind = \"gpib\"", key: "transport.kind", reason: "not one of"),
        Malformed(name: "bad parity", replace: "baud = 115200", with: "baud = 115200\nparity = \"n\"", key: "transport.parity", reason: "not one of"),
        Malformed(name: "bad data bits", replace: "baud = 115200", with: "baud = 115200\ndata_bits = 9", key: "transport.data_bits", reason: "out of range"),
        Malformed(name: "bad line ending", replace: "baud = 115200", with: "baud = 115200\nline_ending = \";\"", key: "transport.line_ending", reason: "is not one of"),
        Malformed(name: "missing safe state description", replace: "description = \"stopped\"", with: "", key: "safe_state.description", reason: "missing required key"),
        Malformed(name: "bad safe state method", replace: "method = \"stop\"", with: "method = \"stop now\"", key: "safe_state.method", reason: "not a method name"),
    ]

    @Test(arguments: malformed)
    func malformedManifestNamesFileAndKey(_ testCase: Malformed) throws {
        #expect(
            Self.valid.components(separatedBy: testCase.replace).count == 2, "the case must edit the base manifest once")
        let text = Self.valid.replacingOccurrences(of: testCase.replace, with: testCase.with)
        let file = "drivers/\(testCase.folder)/driver.toml"
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestParser.parse(text, file: file, folderName: testCase.folder)
        }
        #expect(error.code == .invalidArgument)
        #expect(error.fields["file"] == .string(file))
        #expect(error.fields["key"] == .string(testCase.key))
        let reason = error.fields["reason"]?.string ?? ""
        #expect(reason.contains(testCase.reason), "reason was: \(reason)")
        #expect(error.message.contains(file) && error.message.contains(testCase.key))
    }

    @Test func tomlSyntaxErrorCarriesTheLine() throws {
        let text = Self.valid.replacingOccurrences(of: "baud = 115200", with: "baud = = 115200")
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestParser.parse(text, file: "drivers/demo/driver.toml", folderName: "demo")
        }
        #expect(error.code == .invalidArgument)
        #expect(error.fields["file"] == .string("drivers/demo/driver.toml"))
        #expect(error.fields["line"] == .int(11))
        #expect(error.message.contains("drivers/demo/driver.toml:11"))
    }

    @Test(arguments: [
        // (edit, key, expected line): the line is given only when the key is on one line.
        ("baud = 115200", "baud = 115200\nbaudrate = 9600", "transport.baudrate", 12),
        ("kind = \"stage\"", "kind = \"motor\"", "kind", 2),
        ("[safe_state]", "[safe_stat]\n[safe_state]", "safe_stat", 13),
        ("vendor_id = \"0403\"", "vendor_id = \"403\"", "match[0].vendor_id", 6),
        ("vendor_id = \"0403\"\nproduct_id = \"6001\"", "", "match[0]", 5),
    ])
    func validationErrorsCarryTheLineWhenUnambiguous(edit: String, with: String, key: String, line: Int) throws {
        let text = Self.valid.replacingOccurrences(of: edit, with: with)
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestParser.parse(text, file: "f.toml", folderName: "demo")
        }
        #expect(error.fields["key"] == .string(key))
        #expect(error.fields["line"] == .int(line))
    }

    @Test func lineOfAKeyInTheSecondRule() throws {
        let text = Self.valid + "\n[[match]]\nvendor_id = \"x\"\n"
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestParser.parse(text, file: "f.toml", folderName: "demo")
        }
        #expect(error.fields["key"] == .string("match[1].vendor_id"))
        #expect(error.fields["line"] == .int(17))
    }

    @Test func duplicateKeyIsASyntaxErrorWithItsLine() throws {
        let text = Self.valid.replacingOccurrences(of: "baud = 115200", with: "baud = 1\nbaud = 2")
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestParser.parse(text, file: "f.toml", folderName: "demo")
        }
        // TOML itself refuses the duplicate key: a syntax error, whose line TOMLKit gives.
        #expect(error.fields["line"] == .int(12))
    }

    @Test func loaderRejectsAMissingDirectory() throws {
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestLoader.load(searchPath: [RepositoryPaths.root + "/no-such-drivers"])
        }
        #expect(error.code == .invalidArgument)
    }

    @Test func loaderRejectsTheSameDriverTwiceOnTheSearchPath() throws {
        let error = try #require(throws: LabvisorError.self) {
            try DriverManifestLoader.load(searchPath: [RepositoryPaths.drivers, RepositoryPaths.drivers])
        }
        #expect(error.fields["key"] == .string("id"))
        #expect(error.message.contains("already defined"))
    }
}
