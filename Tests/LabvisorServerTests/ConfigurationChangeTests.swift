import Foundation
import LabvisorServer
import Testing

/// The diff a configuration reload applies: instruments added, removed, replaced (driver, pin
/// or simulate), updated in place (tags, linger) or unchanged; daemon keys live or at restart.
@Suite("ConfigurationChangeTests")
struct ConfigurationChangeTests {
    static func configuration(_ text: String) throws -> DaemonConfiguration {
        try DaemonConfiguration.parse(text, file: "lab.toml")
    }

    static let old = """
        [daemon]
        linger = 2
        call_timeout = 30
        [[instrument]]
        name = "stage-x"
        driver = "zaber-ascii"
        serial = "A1"
        tags = { axis = "x" }
        [[instrument]]
        name = "laser-488"
        driver = "coherent-obis"
        simulate = "coherent-obis"
        [[instrument]]
        name = "heater-1"
        driver = "example-heater"
        simulate = "example-heater"
        linger = 5
        [[instrument]]
        name = "cam"
        driver = "uvc-camera"
        port_path = "1-3"
        [[instrument]]
        name = "stage-z"
        driver = "thorlabs-apt"
        simulate = "thorlabs-apt"
        """

    @Test func instrumentsAreSortedByWhatChanged() throws {
        let new = try Self.configuration("""
            [daemon]
            linger = 3
            call_timeout = 5
            socket = "/tmp/other.sock"
            max_clients = 3
            [[instrument]]
            name = "stage-x"
            driver = "zaber-ascii"
            serial = "A1"
            tags = { axis = "x", room = "B12" }
            [[instrument]]
            name = "heater-1"
            driver = "example-heater"
            simulate = "example-heater"
            linger = 5
            [[instrument]]
            name = "cam"
            driver = "uvc-camera"
            port_path = "1-4"
            [[instrument]]
            name = "stage-z"
            driver = "thorlabs-apt"
            simulate = "thorlabs-apt"
            linger = 2
            [[instrument]]
            name = "stage-y"
            driver = "zaber-ascii"
            simulate = "zaber-ascii"
            """)
        let change = ConfigurationChange(from: try Self.configuration(Self.old), to: new)
        #expect(change.added.map(\.name) == ["stage-y"])
        #expect(change.removed.map(\.name) == ["laser-488"])
        #expect(change.replaced.map(\.name) == ["cam"], "a new pin is a new device")
        // stage-x: new tags, and the default linger it uses went from 2 to 3 s.
        #expect(change.updated.map(\.name) == ["stage-x"])
        #expect(change.updated.first?.tags["room"] == "B12")
        // heater-1 has its own linger; stage-z's own 2 s equals the old default.
        #expect(change.unchanged == ["heater-1", "stage-z"])
        #expect(change.liveSettings == ["call_timeout", "linger"])
        #expect(change.restartSettings == ["socket", "max_clients"])
        #expect(change.summary == "+stage-y -laser-488 ~cam ~stage-x")
        #expect(!change.leavesInstrumentsAlone)
    }

    @Test func aDriverOrSimulateChangeReplacesTheInstrument() throws {
        let new = try Self.configuration(Self.old.replacingOccurrences(of: "\"coherent-obis\"", with: "\"example-heater\""))
        let change = ConfigurationChange(from: try Self.configuration(Self.old), to: new)
        #expect(change.replaced.map(\.name) == ["laser-488"])
        #expect(change.added.isEmpty && change.removed.isEmpty && change.updated.isEmpty)
    }

    @Test func theSameFileChangesNothing() throws {
        let change = ConfigurationChange(from: try Self.configuration(Self.old), to: try Self.configuration(Self.old))
        #expect(change.leavesInstrumentsAlone)
        #expect(change.unchanged == ["stage-x", "laser-488", "heater-1", "cam", "stage-z"])
        #expect(change.liveSettings.isEmpty && change.restartSettings.isEmpty)
        #expect(change.summary == "no instrument changes")
    }

    @Test func everyDaemonKeyIsLiveOrAtRestart() throws {
        let new = try Self.configuration("""
            [daemon]
            socket = "/tmp/x.sock"
            http = "127.0.0.1:0"
            state_dir = "/tmp/state"
            history_days = 30
            max_clients = 2
            calls_in_flight = 2
            streams_per_client = 2
            call_timeout = 2
            linger = 9
            grace_period = 2
            drivers = ["/opt/drivers"]
            """)
        let change = ConfigurationChange(from: DaemonConfiguration(), to: new)
        #expect(change.restartSettings == ["socket", "http", "state_dir", "history_days", "max_clients", "calls_in_flight", "grace_period"])
        #expect(change.liveSettings == ["call_timeout", "streams_per_client", "linger", "drivers"])
    }
}
