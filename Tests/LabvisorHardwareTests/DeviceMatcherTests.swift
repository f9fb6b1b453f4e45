import LabvisorCore
import LabvisorHardware
import Testing

@Suite struct DeviceMatcherTests {
    /// The four reference manifests plus fixtures: two drivers with generic FTDI rules and
    /// one that matches a udev property.
    static let manifests: [DriverManifest] = {
        let rules: [(id: String, rule: String)] = [
            ("ftdi-a", "vendor_id = \"0403\"\nproduct_id = \"6001\""),
            ("ftdi-b", "vendor_id = \"0403\"\nproduct_id = \"6001\"\nserial = \"A9*\""),
            ("site-sensor", "udev_property = \"ID_LABVISOR_SITE=bench-*\""),
        ]
        let fixtures = rules.map { id, rule in
            try! DriverManifestParser.parse(
                """
                id = "\(id)"
                kind = "sensor"
                description = "fixture"
                [[match]]
                \(rule)
                [transport]
                kind = "serial"
                baud = 9600
                [safe_state]
                description = "idle"
                """, file: "fixture/\(id)/driver.toml", folderName: id)
        }
        return try! DriverManifestLoader.load(directory: RepositoryPaths.drivers) + fixtures
    }()

    static func device(
        _ vendorID: String, _ productID: String, serial: String? = nil, manufacturer: String? = nil,
        product: String? = nil, port: String = "1-3.2", classes: [UInt8] = [0xff], properties: [String: String] = [:]
    ) -> DeviceIdentity {
        DeviceIdentity(
            vendorID: vendorID, productID: productID, serial: serial, manufacturer: manufacturer, product: product,
            portPath: port, sysfsPath: "/sys/bus/usb/devices/\(port)", interfaceClasses: classes,
            properties: properties)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var identity: DeviceIdentity
        var pins: [InstrumentPin] = []
        var expected: Expected
        var testDescription: String { name }
    }

    enum Expected: Sendable {
        case claim(DeviceClaim)
        case invalid(ErrorCode, naming: String)
    }

    static let pinSerial = InstrumentPin(instrument: "stage-x", driver: "ftdi-b", selector: .serial("A9XYZ"))
    static let pinPort = InstrumentPin(instrument: "stage-y", driver: "zaber-ascii", selector: .portPath("1-3.2"))
    static let genericFTDI = device("0403", "6001", serial: "A9XYZ", manufacturer: "FTDI", product: "FT232R USB UART")

    static let cases: [Case] = [
        Case(
            name: "Thorlabs VID:PID claimed by its rule", identity: device("0403", "faf0", serial: "83836541"),
            expected: .claim(.claimed(driver: "thorlabs-apt", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "vendor id compared case-insensitively", identity: device("0403", "FAF0"),
            expected: .claim(.claimed(driver: "thorlabs-apt", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "generic FTDI claimed by two drivers is ambiguous (no specificity ranking)",
            identity: genericFTDI, expected: .claim(.ambiguous(["ftdi-a", "ftdi-b"]))),
        Case(
            name: "pin by serial decides an ambiguous device", identity: genericFTDI, pins: [pinSerial],
            expected: .claim(.claimed(driver: "ftdi-b", instrumentName: "stage-x", by: .pin(pinSerial)))),
        Case(
            name: "pin by port path wins although no rule of its driver matches", identity: genericFTDI,
            pins: [pinPort],
            expected: .claim(.claimed(driver: "zaber-ascii", instrumentName: "stage-y", by: .pin(pinPort)))),
        Case(
            name: "pin by port path wins over a single matching rule",
            identity: device("0403", "faf0", port: "1-3.2"), pins: [pinPort],
            expected: .claim(.claimed(driver: "zaber-ascii", instrumentName: "stage-y", by: .pin(pinPort)))),
        Case(
            name: "a pin for another serial does not apply", identity: device("0403", "faf0", serial: "B1"),
            pins: [pinSerial],
            expected: .claim(.claimed(driver: "thorlabs-apt", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "a pin for another port does not apply", identity: device("1234", "5678", port: "2-1"),
            pins: [pinPort], expected: .claim(.unclaimed)),
        Case(
            name: "pinned driver must exist", identity: genericFTDI,
            pins: [InstrumentPin(instrument: "mystery", driver: "no-such-driver", selector: .serial("A9XYZ"))],
            expected: .invalid(.notFound, naming: "no-such-driver")),
        Case(
            name: "two pins on one device are a conflict", identity: genericFTDI, pins: [pinSerial, pinPort],
            expected: .invalid(.invalidArgument, naming: "stage-x")),
        Case(name: "unknown device is unclaimed", identity: device("1234", "5678"), expected: .claim(.unclaimed)),
        Case(
            name: "plain FTDI chip without Zaber strings is unclaimed by the reference drivers",
            identity: device("0403", "6015", manufacturer: "FTDI"), expected: .claim(.unclaimed)),
        Case(
            name: "Zaber vendor id", identity: device("2939", "495b"),
            expected: .claim(.claimed(driver: "zaber-ascii", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "manufacturer pattern on an FTDI chip",
            identity: device("0403", "6015", manufacturer: "Zaber Technologies Inc."),
            expected: .claim(.claimed(driver: "zaber-ascii", instrumentName: nil, by: .rule(index: 1)))),
        Case(
            name: "a specific rule does not beat a generic one: ambiguous",
            identity: device("0403", "6001", manufacturer: "Zaber Technologies Inc."),
            expected: .claim(.ambiguous(["ftdi-a", "zaber-ascii"]))),
        Case(
            name: "manufacturer pattern is case-sensitive", identity: device("0403", "6015", manufacturer: "zaber"),
            expected: .claim(.unclaimed)),
        Case(
            name: "vendor/product strings and CDC interface class",
            identity: device(
                "1234", "0001", manufacturer: "Coherent, Inc.", product: "OBIS 488nm LX", classes: [0x02, 0x0a]),
            expected: .claim(.claimed(driver: "coherent-obis", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "all fields of a rule must hold (no CDC interface)",
            identity: device("1234", "0001", manufacturer: "Coherent, Inc.", product: "OBIS 488nm LX", classes: [0xff]),
            expected: .claim(.unclaimed)),
        Case(
            name: "a missing string never matches a pattern",
            identity: device("1234", "0001", product: "OBIS 488nm LX", classes: [0x02]), expected: .claim(.unclaimed)),
        Case(
            name: "interface class rule", identity: device("046d", "0825", classes: [0x0e, 0x0e, 0x01]),
            expected: .claim(.claimed(driver: "uvc-camera", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "interface class rule does not match other classes", identity: device("046d", "0a44", classes: [0x01, 0x03]),
            expected: .claim(.unclaimed)),
        Case(
            name: "udev property rule", identity: device("1234", "5678", properties: ["ID_LABVISOR_SITE": "bench-3"]),
            expected: .claim(.claimed(driver: "site-sensor", instrumentName: nil, by: .rule(index: 0)))),
        Case(
            name: "udev property with another value", identity: device("1234", "5678", properties: ["ID_LABVISOR_SITE": "desk"]),
            expected: .claim(.unclaimed)),
    ]

    @Test(arguments: cases)
    func claim(_ testCase: Case) {
        let claim = DeviceMatcher.claim(testCase.identity, manifests: Self.manifests, pins: testCase.pins)
        switch testCase.expected {
        case .claim(let expected):
            #expect(claim == expected)
        case .invalid(let code, let name):
            guard case .invalid(let error) = claim else {
                Issue.record("expected an invalid claim, got \(claim)")
                return
            }
            #expect(error.code == code)
            #expect(error.message.contains(name))
        }
    }

    @Test func claimDoesNotDependOnManifestOrder() {
        let reversed = Array(Self.manifests.reversed())
        for testCase in Self.cases {
            #expect(
                DeviceMatcher.claim(testCase.identity, manifests: reversed, pins: testCase.pins)
                    == DeviceMatcher.claim(testCase.identity, manifests: Self.manifests, pins: testCase.pins),
                "\(testCase.name)")
        }
    }
}
