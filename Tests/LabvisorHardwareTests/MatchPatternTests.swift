import LabvisorHardware
import Testing

@Suite struct MatchPatternTests {
    @Test(arguments: [
        ("Zaber*", "Zaber Technologies Inc.", true),
        ("Zaber*", "zaber", false),
        ("Zaber*", "Zaber", true),
        ("*OBIS*", "OBIS 488nm LX", true),
        ("*OBIS*", "Coherent OBIS", true),
        ("*OBIS*", "OBI", false),
        ("A9?X", "A91X", true),
        ("A9?X", "A9X", false),
        ("83[0-9][0-9]*", "83836541", true),
        ("83[0-9][0-9]*", "83A", false),
        ("[!A]*", "B1", true),
        ("[!A]*", "A1", false),
        ("[^A]*", "A1", false),
        ("FT232R", "FT232R", true),
        ("FT232R", "FT232RL", false),
        ("*a*b*c", "xxaxxbxxbxc", true),
        ("*a*b*c", "xxaxxbxxbxcx", false),
        ("[]]x", "]x", true),
    ])
    func globMatching(pattern: String, candidate: String, expected: Bool) throws {
        #expect(try MatchPattern(pattern).matches(candidate) == expected)
    }

    @Test(arguments: ["", "a[", "a[]", "a|b", "a\\b", "say \"x\"", "[z-a]", "tab\there"])
    func malformedGlobsAreRejected(_ pattern: String) {
        #expect(throws: MatchPatternError.self) { try MatchPattern(pattern) }
    }

    @Test func exactPatterns() throws {
        #expect(try MatchPattern("FTDI").isExact)
        #expect(try !MatchPattern("FT*").isExact)
    }
}
