import CoherentOBISSimulator
import Testing

/// The simulator alone: the protocol details the driver does not exercise (short and long
/// SCPI forms, handshaking off, error codes, the CDRH delay, the error queue).
@Suite("CoherentOBISDeviceTests")
struct CoherentOBISDeviceTests {
    /// The reply lines to `request` at `now`.
    func lines(_ device: inout CoherentOBISDevice, _ request: String, at now: ContinuousClock.Instant = .now) -> [String] {
        String(decoding: device.respond(to: request, at: now), as: UTF8.self)
            .split(separator: "\r\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func acceptsShortAndLongFormsInAnyCase() {
        var device = CoherentOBISDevice()
        #expect(lines(&device, "SOURce:POWer:LEVel:IMMediate:AMPLitude?") == ["0.010000", "OK"])
        #expect(lines(&device, "sour:pow:lev:imm:ampl 0.02") == ["OK"])
        #expect(lines(&device, "SOUR:POW:LEV:IMM:AMPL?") == ["0.020000", "OK"])
        #expect(lines(&device, "syst:inf:wav?") == ["488", "OK"])
        #expect(lines(&device, ":SYSTEM:INFORMATION:MODEL?") == ["OBIS 488nm LX 150mW", "OK"])
        #expect(lines(&device, "*idn?") == ["Coherent, Inc - OBIS 488nm LX 150mW - V1.0.1 - Dec 14 2010", "OK"])
    }

    @Test func withoutHandshakingQueriesAnswerAloneAndCommandsAreSilent() {
        var device = CoherentOBISDevice()
        #expect(lines(&device, "SYST:COMM:HAND OFF") == [])
        #expect(lines(&device, "SOUR:AM:STAT?") == ["OFF"])
        #expect(lines(&device, "SOUR:AM:STAT ON") == [])
        #expect(lines(&device, "SOUR:AM:STAT?") == ["ON"])
        #expect(lines(&device, "SOUR:FROB") == ["ERR-100"], "errors are reported even without handshaking")
        #expect(lines(&device, "SYST:COMM:HAND ON") == ["OK"])
        #expect(lines(&device, "SYST:COMM:HAND?") == ["ON", "OK"])
    }

    @Test func reportsTheDocumentedErrorCodes() {
        var device = CoherentOBISDevice()
        #expect(lines(&device, "SOURce:FROBnicate?") == ["ERR-100"])
        #expect(lines(&device, "SOUR:POW:LEV:IMM:AMPL") == ["ERR-109"])
        #expect(lines(&device, "SOUR:POW:LEV:IMM:AMPL 0.2") == ["ERR-220"], "above LIMit:HIGH")
        #expect(lines(&device, "SOUR:POW:LEV:IMM:AMPL watts") == ["ERR-220"])
        #expect(lines(&device, "SOUR:AM:STAT MAYBE") == ["ERR-220"])
        #expect(lines(&device, "SYST:STAT? 3") == ["ERR-102"])
        #expect(lines(&device, "SYST:ERR:COUN?") == ["6", "OK"])
        #expect(lines(&device, "SYST:ERR:NEXT?") == ["ERR-100", "OK"])
        #expect(lines(&device, "SYST:ERR:CLE") == ["OK"])
        #expect(device.errorQueue.isEmpty)
    }

    @Test func aFullErrorQueueAnswersERR350() {
        var device = CoherentOBISDevice()
        device.errorQueueCapacity = 2
        #expect(lines(&device, "NOPE") == ["ERR-100"])
        #expect(lines(&device, "NOPE") == ["ERR-100"])
        #expect(lines(&device, "NOPE") == ["ERR-350"])
        #expect(device.errorQueue == [100, 100])
    }

    @Test func powerRampsDuringWarmUpAfterTheCDRHDelay() {
        var device = CoherentOBISDevice()
        device.cdrh = true
        device.cdrhDelay = .seconds(5)
        device.warmUp = .seconds(2)
        device.setpoint = 0.1
        let start = ContinuousClock.now
        #expect(lines(&device, "SOUR:AM:STAT ON", at: start) == ["OK"])
        #expect(lines(&device, "SYST:STAT?", at: start + .seconds(1)) == ["00000012", "OK"], "emission + CDRH delay")
        #expect(lines(&device, "SOUR:POW:LEV?", at: start + .seconds(1)) == ["0.000000", "OK"])
        #expect(lines(&device, "SOUR:POW:LEV?", at: start + .seconds(6)) == ["0.050000", "OK"])
        #expect(lines(&device, "SYST:STAT?", at: start + .seconds(6)) == ["00000102", "OK"], "emission + warm-up")
        #expect(lines(&device, "SOUR:POW:LEV?", at: start + .seconds(8)) == ["0.100000", "OK"])
        #expect(lines(&device, "SYST:STAT?", at: start + .seconds(8)) == ["00000006", "OK"], "emission + ready")
        #expect(lines(&device, "SOUR:AM:STAT OFF", at: start + .seconds(9)) == ["OK"])
        #expect(lines(&device, "SYST:STAT?", at: start + .seconds(9)) == ["00000008", "OK"], "standby")
    }

    @Test func aFaultDropsEmissionAndKeepsTheLaserOff() {
        var device = CoherentOBISDevice()
        let start = ContinuousClock.now
        _ = lines(&device, "SOUR:AM:STAT ON", at: start)
        device.faultCode = 1 << 5
        #expect(lines(&device, "SYST:FAUL?", at: start) == ["00000020", "OK"])
        #expect(lines(&device, "SOUR:AM:STAT?", at: start) == ["OFF", "OK"])
        #expect(lines(&device, "SOUR:AM:STAT ON", at: start) == ["OK"])
        #expect(!device.emitting)
        #expect(lines(&device, "SYST:STAT?", at: start) == ["00000009", "OK"], "fault + standby")
    }
}
