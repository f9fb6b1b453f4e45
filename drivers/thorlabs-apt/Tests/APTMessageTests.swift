import LabvisorDriverKit
import Testing
@testable import ThorlabsAPT

/// Encoding and decoding against byte strings from the APT protocol document.
@Suite struct APTMessageTests {
    @Test func headerOnlyAndDataMessagesEncodeAsTheDocumentShows() {
        // MGMSG_MOT_MOVE_HOME, channel 1, host -> generic USB unit.
        #expect(APTMessage(0x0443, param1: 1).bytes == [0x43, 0x04, 0x01, 0x00, 0x50, 0x01])
        // MGMSG_MOT_MOVE_ABSOLUTE, channel 1, to 2048 counts.
        var data: [UInt8] = []
        data.appendWord(1)
        data.appendLong(2048)
        #expect(APTMessage(0x0453, data: data).bytes == [0x53, 0x04, 0x06, 0x00, 0xD0, 0x01, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00])
    }

    @Test func decodingRoundTripsAndReadsSignedFields() throws {
        var data: [UInt8] = []
        data.appendWord(1)
        data.appendLong(-123_456)
        let message = try APTMessage(frame: APTMessage(0x0412, data: data, destination: 0x01, source: 0x50).bytes)
        #expect(message.id == 0x0412)
        #expect(message.destination == 0x01 && message.source == 0x50)
        #expect(try message.long(at: 2) == -123_456)
        let short = try APTMessage(frame: [0x44, 0x04, 0x01, 0x00, 0x01, 0x50])
        #expect(short.id == 0x0444 && short.param1 == 1 && short.data == nil)
    }

    @Test func malformedMessagesAreDriverFaults() {
        #expect(throws: LabvisorError.self) { try APTMessage(frame: [0x44, 0x04, 0x01]) }
        #expect(throws: LabvisorError.self) { try APTMessage(frame: [0x12, 0x04, 0x06, 0x00, 0x81, 0x50, 0x01]) }
        let status = APTMessage(0x0491, data: [0x01, 0x00, 0x02])
        let error = #expect(throws: LabvisorError.self) { try APTStatus(status) }
        #expect(error?.code == .driverFault)
    }

    @Test func repliesArePairedByIDAndUpdatesAreNot() {
        let status = APTMessage(0x0490, param1: 1).bytes
        let position = APTMessage(0x0411, param1: 1).bytes
        let update = APTMessage(0x0491, data: [UInt8](repeating: 0, count: 14), destination: 1, source: 0x50).bytes
        let counter = APTMessage(0x0412, data: [UInt8](repeating: 0, count: 6), destination: 1, source: 0x50).bytes
        let completed = APTMessage(0x0464, data: [UInt8](repeating: 0, count: 14), destination: 1, source: 0x50).bytes
        #expect(APTMessageID.isReply(update, to: status))
        #expect(!APTMessageID.isReply(update, to: position), "a status update never answers a position request")
        #expect(APTMessageID.isReply(counter, to: position))
        #expect(!APTMessageID.isReply(completed, to: position), "a move completion is unsolicited")
        var rich: [UInt8] = []
        rich.appendWord(0x0411)
        rich.appendWord(7)
        rich += [UInt8](repeating: 0, count: 64)
        let error = APTMessage(0x0081, data: rich, destination: 1, source: 0x50).bytes
        #expect(APTMessageID.isReply(error, to: position))
        #expect(!APTMessageID.isReply(error, to: status), "an error about another message is not this request's reply")
    }

    @Test func hardwareInfoDecodes() throws {
        var data: [UInt8] = []
        data.appendLong(83_000_001)
        data += Array("TDC001".utf8) + [0, 0]
        data.appendWord(16)
        data += [7, 2, 1, 0]  // minor, interim, major
        data += Array("APT DC Motor Controller".utf8) + [UInt8](repeating: 0, count: 48 - 23)
        data += [UInt8](repeating: 0, count: 12)
        data.appendWord(3)
        data.appendWord(0)
        data.appendWord(1)
        #expect(data.count == 84)
        let info = try APTDeviceInfo(APTMessage(0x0006, data: data, destination: 1, source: 0x50))
        #expect(info.serialNumber == 83_000_001)
        #expect(info.model == "TDC001")
        #expect(info.firmware == "1.2.7")
        #expect(info.notes == "APT DC Motor Controller")
        #expect(info.hardwareVersion == 3 && info.channels == 1)
    }

    @Test func stageScalesComeFromTheModelOrTheNotes() throws {
        #expect(try APTStageScale.lookUp(model: "KDC101", notes: "").countsPerUnit == 34554.96)
        #expect(try APTStageScale.lookUp(model: "KDC101", notes: "MTS50-Z8").countsPerUnit == 34304)
        #expect(try APTStageScale.lookUp(model: "TDC001", notes: "PRM1-Z8").unit == "deg")
        #expect(try APTStageScale.lookUp(model: "KBD101", notes: "").countsPerUnit == 2000)
        let error = #expect(throws: LabvisorError.self) { try APTStageScale.lookUp(model: "ABC123", notes: "") }
        #expect(error?.code == .driverFault)
        #expect(error?.message.contains("KDC101") == true, "the error lists the known models")
        let z8 = APTStageScale.z8
        #expect(try z8.counts(fromUnits: 1, argument: "position") == 34555)
        #expect(throws: LabvisorError.self) { try z8.counts(fromUnits: 1e6, argument: "position") }
    }
}
