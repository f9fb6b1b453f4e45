import CUMockdev
import LabvisorCore

#if canImport(Glibc)
    import Glibc
#endif

/// A umockdev testbed: a private `/sys` and `/dev` that libudev in this process sees.
///
/// Requires the preload library (`umockdev-wrapper CMD`). Without it, creating one throws
/// `unavailable`, so a test FAILS with instructions instead of silently using the real
/// machine. One testbed at a time per process (umockdev keeps it in the environment).
///
/// Not `Sendable`: umockdev's testbed is used from the task that created it.
public final class UmockdevTestbed {
    /// The umockdev object, for calls this type does not wrap.
    public let pointer: UnsafeMutablePointer<UMockdevTestbed>

    /// Creates the testbed: from now on libudev in this process sees only its devices.
    public init() throws(LabvisorError) {
        let preload = getenv("LD_PRELOAD").map { String(cString: $0) } ?? ""
        guard preload.contains("libumockdev-preload") else {
            throw LabvisorError(
                .unavailable,
                "LD_PRELOAD lacks libumockdev-preload.so: run under umockdev-wrapper "
                    + "(tests: start with UmockdevReexec.runHere(suite:), which does)")
        }
        guard let testbed = umockdev_testbed_new() else { throw LabvisorError(.unavailable, "umockdev_testbed_new failed") }
        pointer = testbed
        guard umockdev_in_mock_environment() != 0 else {
            g_object_unref(UnsafeMutableRawPointer(pointer))
            throw LabvisorError(.unavailable, "umockdev_in_mock_environment() is false after umockdev_testbed_new()")
        }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(pointer)) }

    /// Adds devices from a umockdev record (parents first); umockdev sends their `add` uevents.
    public func add(_ record: String) throws(LabvisorError) {
        var error: UnsafeMutablePointer<GError>?
        guard umockdev_testbed_add_from_string(pointer, record, &error) != 0 else {
            let message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            g_error_free(error)
            throw LabvisorError(.unavailable, "umockdev_testbed_add_from_string failed: \(message)")
        }
    }

    /// Synthesizes a uevent (`add`, `remove`, `change`) for a sysfs path (with `/sys`).
    public func uevent(_ syspath: String, _ action: String) {
        umockdev_testbed_uevent(pointer, syspath, action)
    }

    /// Removes a device and its children from the testbed (umockdev 0.17: sends no uevent).
    public func remove(_ syspath: String) {
        umockdev_testbed_remove_device(pointer, syspath)
    }
}
