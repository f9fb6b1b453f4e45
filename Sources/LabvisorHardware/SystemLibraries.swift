import CLibUSB
import CUdev

/// The versions of the system libraries this module talks to, read from the libraries
/// themselves at run time (so `labvisord --version` and bug reports show what is really
/// loaded, not what the build saw).
public enum SystemLibraries {
    /// libusb's version as `major.minor.micro`, from `libusb_get_version()`.
    public static var libusbVersion: String {
        guard let version = libusb_get_version()?.pointee else { return "unknown" }
        return "\(version.major).\(version.minor).\(version.micro)"
    }

    /// Whether a libudev context can be created in this process (it needs `/sys`).
    public static var udevAvailable: Bool {
        guard let udev = udev_new() else { return false }
        udev_unref(udev)
        return true
    }
}
