import LabvisorCore
import LabvisorHardware
import Testing

/// The check that keeps input which aborts toml++ away from it, without refusing valid TOML.
@Suite struct TOMLPreflightTests {
    func parse(_ text: String) throws(LabvisorError) {
        try TOMLSection.parse(text, file: "lab.toml", document: "test") { (_: inout TOMLSection) throws(LabvisorError) in () }
    }

    @Test(arguments: [
        ("[[ = instrument]]\n", 1, "a table header must name a key (a letter, digit, '_', '-' or a quote), not '='"),
        ("a = 1\n\n[ .b]\n", 3, "a table header must name a key (a letter, digit, '_', '-' or a quote), not '.'"),
        ("[daemon]\n\u{E9}x = 1\n", 2, "a non-ASCII character outside a string or a comment"),
        ("[\u{FFFD}instrument]]\n", 1, "a table header must name a key (a letter, digit, '_', '-' or a quote), not '\\xef'"),
    ])
    func refusesWhatAbortsTheLibraryWithLineAndReason(text: String, line: Int, reason: String) {
        let error = #expect(throws: LabvisorError.self) { try parse(text) }
        #expect(error?.fields["line"] == .int(line), "\(String(describing: error))")
        #expect(error?.message.contains(reason) == true, "\(String(describing: error))")
        #expect(error?.message.contains("lab.toml") == true)
    }

    @Test func letsValidTOMLThrough() throws {
        try parse(
            """
            # A comment with non-ASCII: é ✓
            title = "[[ = not a header ]] é"
            matrix = [
              [1, 2],
              [ {a = 1}, {b = 2} ],
              ["x", 'y'],
            ]
            text = \"\"\"
            [ = inside a multi-line string ✓
            \"\"\"
            raw = '''
            [[ = also inside ]]
            '''
            [ "quoted table" ]
            key = 'é'
            [[ arrays ]]
            "quoted key" = 1
            ['literal header']
            x = 2
            """)
    }
}
