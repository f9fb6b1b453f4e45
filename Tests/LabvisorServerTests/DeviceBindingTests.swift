import Foundation
import LabvisorHardware
@testable import LabvisorServer
import Testing

/// Which instrument a discovered device becomes (pure: pins and manifests only).
@Suite("DeviceBindingTests")
struct DeviceBindingTests {
    static let manifests: [DriverManifest] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? DriverManifestLoader.load(searchPath: [root.appendingPathComponent("drivers").path])) ?? []
    }()

    static func ftdi(serial: String? = "FT5XYZ12", nodes: [String] = ["/dev/bus/usb/001/007", "/dev/ttyUSB0"]) -> DeviceIdentity {
        DeviceIdentity(
            vendorID: "0403", productID: "6001", serial: serial, portPath: "1-3", deviceNodes: nodes,
            sysfsPath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-3", drivers: ["ftdi_sio"])
    }

    static func configuration(_ text: String) throws -> DaemonConfiguration {
        try DaemonConfiguration.parse(text, file: "test.toml")
    }

    @Test func aPinNamesTheInstrumentAndItsTagsAndTheLinkOpensTheTtyNode() throws {
        #expect(!Self.manifests.isEmpty)
        let configuration = try Self.configuration(
            """
            [[instrument]]
            name = "stage-u"
            driver = "zaber-ascii"
            serial = "FT5XYZ12"
            tags = { room = "B12" }
            """)
        guard case .bound(let binding) = DeviceBinding.bind(Self.ftdi(), manifests: Self.manifests, configuration: configuration) else {
            Issue.record("the pinned device is not bound")
            return
        }
        #expect(binding.name == "stage-u")
        #expect(binding.manifest.id == "zaber-ascii")
        #expect(binding.configured?.tags["room"] == "B12")
        #expect(binding.link(Self.ftdi(), reactor: .shared)?.location == "/dev/ttyUSB0")
        #expect(binding.link(Self.ftdi(nodes: ["/dev/bus/usb/001/007"]), reactor: .shared) == nil, "no tty node yet: wait")
    }

    @Test func aDeviceNobodyClaimsIsLeftAlone() throws {
        let configuration = try Self.configuration("")
        guard case .unclaimed = DeviceBinding.bind(Self.ftdi(), manifests: Self.manifests, configuration: configuration) else {
            Issue.record("a plain FTDI adapter is claimed by no manifest")
            return
        }
    }

    @Test func aManifestClaimWithoutAPinIsNamedAfterTheDriverAndSerial() throws {
        var thorlabs = Self.ftdi(serial: "83836541")
        thorlabs.productID = "faf0"
        guard case .bound(let binding) = DeviceBinding.bind(thorlabs, manifests: Self.manifests, configuration: try Self.configuration("")) else {
            Issue.record("the Thorlabs VID:PID is claimed by its manifest")
            return
        }
        #expect(binding.name == "thorlabs-apt-83836541")
        #expect(binding.configured == nil)
        #expect(DeviceBinding.defaultName(driver: "x", Self.ftdi(serial: nil)) == "x-1-3")
        #expect(DeviceBinding.defaultName(driver: "x", Self.ftdi(serial: "AB_c.1")) == "x-ab-c-1")
    }

    @Test func twoPinsOnOneDeviceAreRefusedWithASentence() throws {
        let configuration = try Self.configuration(
            """
            [[instrument]]
            name = "a"
            driver = "zaber-ascii"
            serial = "FT5XYZ12"
            [[instrument]]
            name = "b"
            driver = "zaber-ascii"
            port_path = "1-3"
            """)
        guard case .refused(let sentence) = DeviceBinding.bind(Self.ftdi(), manifests: Self.manifests, configuration: configuration) else {
            Issue.record("two pins on one device must be refused")
            return
        }
        #expect(sentence.contains("'a'") && sentence.contains("'b'"), "\(sentence)")
        #expect(sentence.contains("not opened"))
    }
}
