import LabvisorDriverTesting
import LabvisorCore
import LabvisorHardware
import LabvisorSimulation
import Testing

extension USBTests {
    /// Enumeration, descriptors, open, claim and release, kernel drivers: the real libusb code of
    /// `USBContext` and `USBDevice` against a `SimulatedUSBDevice` in a umockdev testbed. Each
    /// test re-runs itself under `umockdev-wrapper` (`UmockdevReexec`).
    @Suite(.serialized) struct USBDeviceTests {
        @Test func enumerationReportsTheExactDescriptorsAndStrings() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBDeviceTests") else { return }
            let bench = try USBTestBench()
            let devices = try bench.context.devices()
            #expect(devices == [bench.device.expectedInfo])
            let info = try #require(devices.first)
            #expect(info.portPath == "1-5")
            #expect(info.label == "1-5 (2939:0001)")
            #expect(info.configurations[0].interfaces[0].alternateSettings[0].endpoints.map(\.direction) == [.out, .in, .in, .in, .in])

            let handle = try bench.context.open(bus: 1, address: 5)
            #expect(handle.info == info)
            let strings = try await handle.strings()
            #expect(strings == USBDeviceStrings(manufacturer: "Example Corp", product: "Fake Meter", serialNumber: "INST-0001"))
            try await handle.close()
            try await bench.shutdown()
        }

        @Test func openByIdentityClaimAlternateSettingRelease() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBDeviceTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.context.open(bench.device.identity)
            #expect(handle.info.bus == 1 && handle.info.address == 5)

            try handle.claim(interface: 0)
            #expect(bench.device.claimedInterfaces == [0])
            #expect(handle.claimedInterfaces == [0])
            try handle.setAlternateSetting(1, interface: 0)
            #expect(bench.device.alternateSettings == [0: 1])
            let badSetting = await thrownError { try handle.setAlternateSetting(7, interface: 0) }
            #expect(badSetting?.code == .notFound)  // libusb: EINVAL from SETINTERFACE is NOT_FOUND
            try handle.release(interface: 0)
            #expect(bench.device.claimedInterfaces.isEmpty)

            try handle.claim(interface: 0)
            try await handle.close()  // releases what is claimed
            #expect(bench.device.claimedInterfaces.isEmpty)
            #expect(handle.isClosed)
            let afterClose = await thrownError { try await handle.bulkRead(endpoint: 0x81, length: 64) }
            #expect(afterClose?.code == .closed)

            var other = bench.device.identity
            other.portPath = "1-9"
            let missing = await thrownError { try bench.context.open(other) }
            #expect(missing?.code == .notFound)
            try await bench.shutdown()
        }

        @Test func kernelDriverIsDetachedOnlyWhenAsked() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBDeviceTests") else { return }
            let bench = try USBTestBench()
            let plain = try bench.context.open(bus: 1, address: 5)
            #expect(try plain.kernelDriverActive(interface: 1))
            let busy = await thrownError { try plain.claim(interface: 1) }
            #expect(busy?.code == .unavailable)
            #expect(bench.device.kernelDrivers == [1: "usbhid"])
            try await plain.close()

            let detaching = try bench.context.open(bus: 1, address: 5, detachKernelDriver: true)
            try detaching.claim(interface: 1)
            #expect(bench.device.kernelDrivers.isEmpty)
            #expect(bench.device.claimedInterfaces == [1])
            try detaching.release(interface: 1)
            #expect(bench.device.kernelDrivers == [1: "usbhid"])  // reattached on release
            try await detaching.close()
            try await bench.shutdown()
        }

        @Test func contextShutdownIsIdempotentAndClosesTheContext() async throws {
            guard try await UmockdevReexec.runHere(suite: "USBDeviceTests") else { return }
            let bench = try USBTestBench()
            let handle = try bench.open()
            try await bench.shutdown()
            #expect(handle.isClosed)
            #expect(bench.device.claimedInterfaces.isEmpty)
            try await bench.shutdown()
            #expect(bench.context.isShutDown)
            let listing = await thrownError { try bench.context.devices() }
            #expect(listing?.code == .closed)
        }
    }
}
