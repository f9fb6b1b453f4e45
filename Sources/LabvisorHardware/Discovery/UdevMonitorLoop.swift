import CUdev
import LabvisorCore

/// The body of the discovery thread: coldplug scan, then the udev monitor loop until stop.
/// Every libudev call of discovery happens here, on that one thread.
enum UdevMonitorLoop {
    /// Runs until `stop` is signalled. Throws only when udev cannot be set up.
    static func run(
        configuration: DiscoveryConfiguration, stop: StopSignal, emit: (DiscoveryEvent) -> Void
    ) throws(LabvisorError) {
        let reader = try UdevIdentityReader()
        // The monitor is enabled before the scan, so a device plugged in during the scan is
        // seen by one or the other (or both: that is a `changed` at most, never a loss).
        guard let monitor = udev_monitor_new_from_netlink(reader.udev, "udev") else {
            throw LabvisorError(.unavailable, "udev_monitor_new_from_netlink failed")
        }
        defer { udev_monitor_unref(monitor) }
        udev_monitor_filter_add_match_subsystem_devtype(monitor, "usb", nil)
        udev_monitor_filter_add_match_subsystem_devtype(monitor, "tty", nil)
        let enabled = udev_monitor_enable_receiving(monitor)
        guard enabled >= 0 else {
            throw LabvisorError(.unavailable, "udev_monitor_enable_receiving failed", fields: ["result": .int(Int(enabled))])
        }

        var tracker = DiscoveryTracker(configuration: configuration)
        for identity in reader.presentDevices() {
            tracker.coldplug(identity).forEach(emit)
        }
        emit(.coldplugComplete)

        let waiter = MonitorWait(monitorFD: udev_monitor_get_fd(monitor), stop: stop)
        while waiter.wait(until: tracker.nextDeadline) != .stopped {
            while waiter.hasData(), let device = udev_monitor_receive_device(monitor) {
                handle(device, tracker: &tracker, emit: emit)
                udev_device_unref(device)
            }
            let now = ContinuousClock.now
            for path in tracker.takeSettled(now: now) {
                tracker.resolve(path, identity: reader.identity(ofUSBDevice: path), now: now).forEach(emit)
            }
            tracker.expire(now: now).forEach(emit)
        }
    }

    /// One uevent: a remove of a usb_device ends it, anything else (re)starts its settle window.
    private static func handle(_ device: OpaquePointer, tracker: inout DiscoveryTracker, emit: (DiscoveryEvent) -> Void) {
        guard let syspath = UdevIdentityReader.string(udev_device_get_syspath(device)) else { return }
        let action = UdevIdentityReader.string(udev_device_get_action(device)) ?? ""
        let now = ContinuousClock.now
        if action == "remove" {
            // Its sysfs entry may be gone already: find the device by path among the known ones.
            guard let usbDevice = tracker.knownDevice(containing: syspath) else { return }  // duplicate or unknown
            if usbDevice == syspath {
                tracker.remove(usbDevice: usbDevice, now: now).forEach(emit)
            } else {
                tracker.noteActivity(usbDevice: usbDevice, now: now)  // a child left: re-read after settling
            }
            return
        }
        guard let usbDevice = UdevIdentityReader.usbDevicePath(of: device) ?? tracker.knownDevice(containing: syspath)
        else { return }  // not a USB device (ttyS0, a virtual console)
        tracker.noteActivity(usbDevice: usbDevice, now: now)
    }
}
