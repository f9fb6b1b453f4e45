import CLibUSB

/// The address of a libusb object (context, device handle), so the types that own one can
/// be `Sendable`.
///
/// `@unchecked Sendable` is sound: libusb's API is thread-safe (libusb documents every
/// function as callable from any thread, with its own locks inside; "Multi-threaded
/// applications" in its manual), this value only carries the address, and the owner
/// (`USBContext`, `USBDevice`) keeps the object alive for as long as it hands the address out.
struct LibUSBPointer: @unchecked Sendable {
    let raw: OpaquePointer
}
