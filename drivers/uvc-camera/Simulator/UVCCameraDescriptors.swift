import LabvisorSimulation

/// The descriptors of the simulated camera, written byte by byte from the UVC 1.1
/// specification (3.6-3.9 and the uncompressed payload specification 3.1): an interface
/// association, a VideoControl interface (0) with a camera terminal (id 1, exposure time and
/// auto-exposure mode controls) feeding a streaming output terminal (id 2), and a
/// VideoStreaming interface (1) with one bulk IN endpoint (0x81) and its uncompressed formats.
enum UVCCameraDescriptors {
    static let controlInterface: UInt8 = 0
    static let streamingInterface: UInt8 = 1
    static let endpoint: UInt8 = 0x81
    static let cameraTerminalID: UInt8 = 1
    static let outputTerminalID: UInt8 = 2
    static let uvcVersion: UInt16 = 0x0110
    /// `dwClockFrequency`: PTS and SCR count 100 ns ticks.
    static let clockFrequency: UInt32 = 10_000_000

    /// The formats grouped by FourCC, in the order of `formats` (format index from 1, frame
    /// index from 1 within each).
    static func groups(_ formats: [SimulatedUVCFormat]) -> [(fourCC: String, bitsPerPixel: Int, frames: [SimulatedUVCFormat])] {
        var groups: [(fourCC: String, bitsPerPixel: Int, frames: [SimulatedUVCFormat])] = []
        for format in formats {
            if let index = groups.firstIndex(where: { $0.fourCC == format.fourCC }) {
                groups[index].frames.append(format)
            } else {
                groups.append((format.fourCC, format.bitsPerPixel, [format]))
            }
        }
        return groups
    }

    static func make(
        formats: [SimulatedUVCFormat], vendorID: UInt16, productID: UInt16, serialNumber: String
    ) -> SimulatedUSBDescriptors {
        let association: [UInt8] = [8, 0x0b, controlInterface, 2, 0x0e, 0x03, 0x00, 0]
        let cameraTerminal: [UInt8] =
            [18, 0x24, 0x02, cameraTerminalID] + le(UInt16(0x0201)) + [0, 0] + [0, 0, 0, 0, 0, 0] + [3, 0x0a, 0x00, 0x00]
        let outputTerminal: [UInt8] = [9, 0x24, 0x03, outputTerminalID] + le(UInt16(0x0101)) + [0, cameraTerminalID, 0]
        let controlTotal = 13 + cameraTerminal.count + outputTerminal.count
        let controlHeader: [UInt8] =
            [13, 0x24, 0x01] + le(uvcVersion) + le(UInt16(controlTotal)) + le(clockFrequency) + [1, streamingInterface]

        var formatDescriptors: [UInt8] = []
        let groups = groups(formats)
        for (formatIndex, group) in groups.enumerated() {
            formatDescriptors += [27, 0x24, 0x04, UInt8(formatIndex + 1), UInt8(group.frames.count)]
            formatDescriptors += guid(group.fourCC) + [UInt8(group.bitsPerPixel), 1, 0, 0, 0, 0]
            for (frameIndex, frame) in group.frames.enumerated() {
                let bitRate = UInt32(clamping: frame.frameSize * 8 * 10_000_000 / Int(frame.intervals.min() ?? 333_333))
                var descriptor: [UInt8] = [UInt8(26 + 4 * frame.intervals.count), 0x24, 0x05, UInt8(frameIndex + 1), 0]
                descriptor += le(UInt16(frame.width)) + le(UInt16(frame.height)) + le(bitRate) + le(bitRate)
                descriptor += le(UInt32(frame.frameSize)) + le(frame.intervals[0]) + [UInt8(frame.intervals.count)]
                for interval in frame.intervals { descriptor += le(interval) }
                formatDescriptors += descriptor
            }
        }
        let inputHeaderLength = 13 + groups.count
        let streamingHeader: [UInt8] =
            [UInt8(inputHeaderLength), 0x24, 0x01, UInt8(groups.count)]
            + le(UInt16(inputHeaderLength + formatDescriptors.count)) + [endpoint, 0, outputTerminalID, 0, 0, 0, 1]
            + [UInt8](repeating: 0, count: groups.count)

        return SimulatedUSBDescriptors(
            vendorID: vendorID, productID: productID, deviceVersion: 0x0100, deviceClass: 0xef, deviceSubclass: 0x02,
            deviceProtocol: 0x01, manufacturer: "Labvisor Simulations", product: "UVC Test Camera", serialNumber: serialNumber,
            configuration: USBConfigurationInfo(
                value: 1, attributes: 0x80, maxPower: 250,
                interfaces: [
                    USBInterfaceInfo(
                        number: controlInterface,
                        alternateSettings: [
                            USBAlternateSetting(
                                interfaceNumber: controlInterface, interfaceClass: 0x0e, interfaceSubclass: 0x01,
                                endpoints: [], extra: controlHeader + cameraTerminal + outputTerminal)
                        ]),
                    USBInterfaceInfo(
                        number: streamingInterface,
                        alternateSettings: [
                            USBAlternateSetting(
                                interfaceNumber: streamingInterface, interfaceClass: 0x0e, interfaceSubclass: 0x02,
                                endpoints: [USBEndpointInfo(address: endpoint, transferType: .bulk, maxPacketSize: 512)],
                                extra: streamingHeader + formatDescriptors)
                        ]),
                ],
                extra: association))
    }

    /// `FourCC-0000-0010-8000-00AA00389B71`, as stored in descriptors.
    static func guid(_ fourCC: String) -> [UInt8] {
        Array(fourCC.utf8.prefix(4)) + [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
