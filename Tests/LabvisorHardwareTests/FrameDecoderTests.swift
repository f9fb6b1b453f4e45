import LabvisorCore
import LabvisorHardware
import Testing

@Suite struct LengthFieldFrameDecoderTests {
    /// MGMSG_MOT_MOVE_HOME, channel 1, from the host (0x01) to the controller (0x50).
    let home: [UInt8] = [0x43, 0x04, 0x01, 0x00, 0x50, 0x01]
    /// MGMSG_MOT_MOVE_ABSOLUTE, channel 1, to 2048: header (0xD0 = 0x50 | 0x80) + 6 data bytes.
    let move: [UInt8] = [0x53, 0x04, 0x06, 0x00, 0xD0, 0x01, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00]

    @Test func aShortMessageIsItsHeader() throws {
        var decoder = LengthFieldFrameDecoder.thorlabsAPT()
        #expect(try decoder.decode(home) == [home])
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func aLongMessageCarriesItsDataPart() throws {
        var decoder = LengthFieldFrameDecoder.thorlabsAPT()
        let frames = try decoder.decode(move)
        #expect(frames == [move])
        let position = frames[0][8...11].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(position == 2048)
    }

    @Test func messagesSplitAcrossReadsComeOutWhole() throws {
        var decoder = LengthFieldFrameDecoder.thorlabsAPT()
        var frames: [[UInt8]] = []
        for byte in move + home { frames += try decoder.decode([byte]) }
        #expect(frames == [move, home])
        // Split inside the header and inside the data.
        #expect(try decoder.decode(move[0..<3]).isEmpty)
        #expect(try decoder.decode(move[3..<8]).isEmpty)
        #expect(try decoder.decode(move[8...]) == [move])
    }

    @Test func severalMessagesInOneRead() throws {
        var decoder = LengthFieldFrameDecoder.thorlabsAPT()
        #expect(try decoder.decode(home + move + home + move[0..<4]) == [home, move, home])
        #expect(decoder.bufferedByteCount == 4)
        #expect(try decoder.decode(move[4...]) == [move])
    }

    @Test func anImpossibleLengthIsGarbageAndDecodingSlidesPastIt() throws {
        var decoder = LengthFieldFrameDecoder.thorlabsAPT(maxDataLength: 64)
        decoder.append([0x00, 0x00, 0xFF, 0xFF, 0x81, 0x50] + home)
        var errors: [LabvisorError] = []
        var frames: [[UInt8]] = []
        for _ in 0..<20 {
            do {
                guard let frame = try decoder.nextFrame() else { break }
                frames.append(frame)
            } catch {
                errors.append(error)
            }
        }
        #expect(errors.first?.code == .driverFault)
        #expect(errors.first?.fields["reason"] == "frameTooLong")
        #expect(frames == [home])
        #expect(errors.count == 6)
    }

    @Test func aHeaderWithoutAPTAddressesIsGarbage() throws {
        var decoder = LengthFieldFrameDecoder.thorlabsAPT()
        decoder.append([0xEE] + home)
        let error = try #require(throws: LabvisorError.self) { _ = try decoder.nextFrame() }
        #expect(error.fields["reason"] == "badHeader")
        #expect(try decoder.nextFrame() == home)
    }

    @Test func aptRepliesWithLongDataPartsAndHeadersInterleave() throws {
        // HW_GET_INFO (84 data bytes), MOT_GET_DCSTATUSUPDATE (14), MOT_MOVE_HOMED (header only),
        // controller (0x50) to host (0x01 | 0x80 when data follows).
        let info: [UInt8] = [0x06, 0x00, 0x54, 0x00, 0x81, 0x50] + [UInt8](repeating: 0x41, count: 84)
        let status: [UInt8] = [0x91, 0x04, 0x0E, 0x00, 0x81, 0x50] + [UInt8](repeating: 0, count: 14)
        let homed: [UInt8] = [0x44, 0x04, 0x01, 0x00, 0x01, 0x50]
        var decoder = LengthFieldFrameDecoder.thorlabsAPT()
        #expect(try decoder.decode(status + info[0..<40]) == [status])
        #expect(try decoder.decode(info[40...] + homed + status) == [info, homed, status])
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func aBigEndianLayoutThatCountsTheHeader() throws {
        // 4-byte header: type, flags, 16-bit big-endian total length.
        let layout = LengthFieldFrameDecoder.Layout(
            headerSize: 4, lengthFieldOffset: 2, lengthFieldSize: 2, endianness: .big, lengthAdjustment: -4,
            isValidHeader: { $0.first == 0xA5 })
        var decoder = LengthFieldFrameDecoder(layout: layout)
        let message: [UInt8] = [0xA5, 0x00, 0x00, 0x07, 1, 2, 3]
        #expect(try decoder.decode(message) == [message])
        decoder.append([0x11] + message)
        #expect(throws: LabvisorError.self) { try decoder.nextFrame() }
        #expect(try decoder.nextFrame() == message)
    }
}

@Suite struct LineFrameDecoderTests {
    @Test func linesEndWithLineFeedOrCarriageReturnLineFeed() throws {
        var decoder = LineFrameDecoder()
        #expect(try decoder.decode(Array("@01 0 OK IDLE\r\nsecond\nthi".utf8)) == ["@01 0 OK IDLE", "second"])
        #expect(try decoder.decode(Array("rd\r".utf8)).isEmpty)
        #expect(try decoder.decode(Array("\n".utf8)) == ["third"])
        #expect(try decoder.decode(Array("\n".utf8)) == [""])
    }

    @Test func carriageReturnTerminatedLines() throws {
        var decoder = LineFrameDecoder(terminator: .carriageReturn)
        #expect(try decoder.decode(Array("a\rb\r\nc".utf8)) == ["a", "b"])
    }

    @Test func anOverLongLineIsGarbageAndTheNextLineStillDecodes() throws {
        var decoder = LineFrameDecoder(maxLength: 8)
        let error = try #require(throws: LabvisorError.self) {
            _ = try decoder.decode(Array("0123456789abcdef".utf8))
        }
        #expect(error.code == .driverFault)
        #expect(error.fields["reason"] == "frameTooLong")
        // The rest of the long line is skipped, up to its terminator.
        #expect(try decoder.decode(Array("more garbage\nok\n".utf8)) == ["ok"])
        // A complete over-long line in one piece.
        #expect(throws: LabvisorError.self) { _ = try decoder.decode(Array("0123456789\nnext\n".utf8)) }
        #expect(try decoder.nextFrame() == "next")
    }

    @Test func resetDropsAPartialLine() throws {
        var decoder = LineFrameDecoder()
        #expect(try decoder.decode(Array("partial".utf8)).isEmpty)
        #expect(decoder.bufferedByteCount == 7)
        decoder.reset()
        #expect(try decoder.decode(Array("whole\n".utf8)) == ["whole"])
    }
}
