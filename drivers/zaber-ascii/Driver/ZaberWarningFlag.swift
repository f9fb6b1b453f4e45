/// Zaber ASCII warning flags: two letters, `F…` faults, `W…` warnings, `N…` notices, with
/// their meanings from the ASCII protocol manual's "Warning Flags" table.
enum ZaberWarningFlag {
    /// Meanings of the flags this driver knows; others are reported with a pointer to the manual.
    static let meanings: [String: String] = [
        "FD": "driver disabled", "FQ": "encoder error", "FS": "stalled and stopped", "FT": "excessive twist",
        "FB": "stream bounds error", "FP": "interpolated path deviation", "FE": "limit error",
        "FO": "overdrive limit exceeded", "FM": "unexpected peripheral (mismatch)",
        "WR": "no reference position (axis not homed)", "WH": "device not homed", "WL": "unexpected limit trigger",
        "WV": "voltage out of range", "WT": "system temperature high", "WM": "displaced when stationary",
        "WP": "invalid calibration", "NC": "manual control", "NI": "command interrupted",
        "ND": "stream discontinuity", "NU": "setting update pending", "NJ": "joystick calibrating",
    ]

    /// The meaning of `flag`, for messages.
    static func meaning(_ flag: String) -> String {
        meanings[flag] ?? "see the Zaber ASCII protocol manual"
    }

    /// Whether `flag` is a fault (the axis stopped because something went wrong).
    static func isFault(_ flag: String) -> Bool { flag.hasPrefix("F") }
}
