import LabvisorCore
import Testing

@Suite struct DeviceIdentityTests {
    static let ftdi = DeviceIdentity(
        vendorID: "0403", productID: "6001", serial: "A12345", manufacturer: "FTDI", product: "FT232R USB UART",
        portPath: "1-3.2", deviceNodes: ["/dev/bus/usb/001/005", "/dev/ttyUSB0"],
        sysfsPath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3.2", drivers: ["ftdi_sio"],
        interfaceClasses: [0xff])

    @Test func stableKeyPrefersOverrideThenSerialThenPort() {
        var identity = Self.ftdi
        #expect(identity.stableKey == "0403:6001:A12345")
        identity.serial = nil
        #expect(identity.stableKey == "0403:6001@1-3.2")
        identity.properties[DeviceIdentity.identityOverrideProperty] = "bench-stage-left"
        #expect(identity.stableKey == "bench-stage-left")
    }

    @Test func documentIsWhatQueriesSee() throws {
        let query = try RequirementQuery(parsing: ["serial": "A12345", "drivers": "ftdi_sio", "interfaceClasses": 255])
        #expect(query.matches(Self.ftdi.document))
        #expect(Self.ftdi.document["manufacturer"] == "FTDI")
    }
}
