import LabvisorCore
import Testing

@testable import LabvisorHardware

/// The grouping, debounce and grace rules, with a hand-driven clock.
@Suite struct DiscoveryTrackerTests {
    let start = ContinuousClock.now
    let meter = DeviceIdentity(
        vendorID: "0403", productID: "6001", serial: "A1", portPath: "1-3", deviceNodes: ["/dev/ttyUSB0"],
        sysfsPath: "/sys/devices/usb1/1-3")
    var tracker = DiscoveryTracker(
        configuration: DiscoveryConfiguration(settleWindow: .milliseconds(50), gracePeriod: .seconds(10)))

    @Test mutating func childEventsRestartTheSettleWindowAndTheDeviceIsReportedOnce() {
        tracker.noteActivity(usbDevice: meter.sysfsPath, now: start)
        tracker.noteActivity(usbDevice: meter.sysfsPath, now: start + .milliseconds(40))
        #expect(tracker.takeSettled(now: start + .milliseconds(60)).isEmpty)
        #expect(tracker.nextDeadline == start + .milliseconds(90))
        #expect(tracker.takeSettled(now: start + .milliseconds(90)) == [meter.sysfsPath])
        #expect(tracker.resolve(meter.sysfsPath, identity: meter, now: start) == [.added(meter)])
        #expect(tracker.takeSettled(now: start + .seconds(1)).isEmpty)
    }

    @Test mutating func aChangedIdentityIsReportedAndAnUnchangedOneIsNot() {
        _ = tracker.coldplug(meter)
        #expect(tracker.resolve(meter.sysfsPath, identity: meter, now: start).isEmpty)
        var bound = meter
        bound.drivers = ["ftdi_sio"]
        #expect(tracker.resolve(meter.sysfsPath, identity: bound, now: start) == [.changed(bound)])
    }

    @Test mutating func removeKeepsTheDeviceForTheGracePeriodAndDuplicatesAreHarmless() {
        _ = tracker.coldplug(meter)
        #expect(tracker.knownDevice(containing: meter.sysfsPath + "/1-3:1.0/ttyUSB0/tty/ttyUSB0") == meter.sysfsPath)
        #expect(tracker.knownDevice(containing: "/sys/devices/usb1/1-33") == nil)
        #expect(tracker.remove(usbDevice: meter.sysfsPath, now: start) == [.removed(meter)])
        #expect(tracker.remove(usbDevice: meter.sysfsPath, now: start).isEmpty)
        #expect(tracker.knownDevice(containing: meter.sysfsPath) == nil)
        #expect(tracker.nextDeadline == start + .seconds(10))
        #expect(tracker.expire(now: start + .seconds(9)).isEmpty)

        var moved = meter
        moved.portPath = "1-4"
        moved.sysfsPath = "/sys/devices/usb1/1-4"
        #expect(tracker.resolve(moved.sysfsPath, identity: moved, now: start + .seconds(9)) == [.reattached(moved)])
        #expect(tracker.expire(now: start + .seconds(20)).isEmpty)
    }

    @Test mutating func theGracePeriodEndsInExpired() {
        _ = tracker.coldplug(meter)
        _ = tracker.remove(usbDevice: meter.sysfsPath, now: start)
        #expect(tracker.expire(now: start + .seconds(10)) == [.expired(meter)])
        #expect(tracker.nextDeadline == nil)
        #expect(tracker.resolve(meter.sysfsPath, identity: meter, now: start + .seconds(11)) == [.added(meter)])
    }

    @Test mutating func aRemoveWhileSettlingDropsTheDeviceSilently() {
        tracker.noteActivity(usbDevice: meter.sysfsPath, now: start)
        #expect(tracker.knownDevice(containing: meter.sysfsPath + "/1-3:1.0") == meter.sysfsPath)
        #expect(tracker.remove(usbDevice: meter.sysfsPath, now: start).isEmpty)
        #expect(tracker.takeSettled(now: start + .seconds(1)).isEmpty)
    }

    @Test mutating func aDeviceThatVanishedBeforeItWasReadIsRemoved() {
        _ = tracker.coldplug(meter)
        #expect(tracker.resolve(meter.sysfsPath, identity: nil, now: start) == [.removed(meter)])
    }

    @Test func pollTimeoutsRoundUp() {
        #expect(MonitorWait.timeoutMilliseconds(until: nil) == -1)
        #expect(MonitorWait.timeoutMilliseconds(until: .now - .seconds(1)) == 0)
        let timeout = MonitorWait.timeoutMilliseconds(until: .now + .microseconds(1500))
        #expect(timeout == 2 || timeout == 1)
    }
}
