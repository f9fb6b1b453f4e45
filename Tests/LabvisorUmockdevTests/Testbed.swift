import CUMockdev
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Thrown when the tests do not run under umockdev's preload library.
struct UmockdevMissing: Error, CustomStringConvertible {
    let description: String
}

/// A umockdev testbed: a private `/sys` and `/dev` that libudev in this process sees.
///
/// Requires the preload library (see `UmockdevReexec`). Without
/// it, creating one throws, so the test FAILS with instructions instead of silently testing
/// the real machine. One testbed at a time per process (umockdev keeps it in the
/// environment), hence `.serialized` on the suites that use it.
final class Testbed {
    let pointer: UnsafeMutablePointer<UMockdevTestbed>

    init() throws {
        let preload = getenv("LD_PRELOAD").map { String(cString: $0) } ?? ""
        guard preload.contains("libumockdev-preload") else {
            throw UmockdevMissing(
                description: "LD_PRELOAD lacks libumockdev-preload.so: start the test with "
                    + "UmockdevReexec.runHere(suite:), which re-runs it under umockdev-wrapper")
        }
        guard let testbed = umockdev_testbed_new() else { throw UmockdevMissing(description: "umockdev_testbed_new failed") }
        pointer = testbed
        guard umockdev_in_mock_environment() != 0 else {
            g_object_unref(UnsafeMutableRawPointer(pointer))
            throw UmockdevMissing(description: "umockdev_in_mock_environment() is false after umockdev_testbed_new()")
        }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(pointer)) }

    /// Adds devices from a umockdev record (parents first); umockdev sends their `add` uevents.
    func add(_ record: String) throws {
        var error: UnsafeMutablePointer<GError>?
        guard umockdev_testbed_add_from_string(pointer, record, &error) != 0 else {
            let message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            g_error_free(error)
            throw UmockdevMissing(description: "umockdev_testbed_add_from_string failed: \(message)")
        }
    }

    /// Synthesizes a uevent (`add`, `remove`, `change`) for a sysfs path (with `/sys`).
    func uevent(_ syspath: String, _ action: String) {
        umockdev_testbed_uevent(pointer, syspath, action)
    }

    /// Removes a device and its children from the testbed (umockdev 0.17: sends no uevent).
    func remove(_ syspath: String) {
        umockdev_testbed_remove_device(pointer, syspath)
    }
}
