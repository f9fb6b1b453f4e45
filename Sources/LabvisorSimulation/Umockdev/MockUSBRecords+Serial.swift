extension MockUSBRecords {
    /// `ftdi` with its tty as a terminal that the code under test can open and talk to: the
    /// same devices, but the tty node is character major 4 (`A: dev=4:64`) instead of
    /// ttyUSB's 188. umockdev 0.17's preload answers `isatty()` from the node's major, and
    /// reports 0 for anything but 4, so `SerialPort.open` would refuse a 188 node as "not a
    /// terminal". Discovery reads neither the attribute nor `MAJOR`/`MINOR`.
    public static var ftdiTerminal: String {
        ftdi.replacing("A: dev=188:0\\n", with: "A: dev=4:64\\n")
            .replacing("E: MAJOR=188\nE: MINOR=0\n", with: "E: MAJOR=4\nE: MINOR=64\n")
    }
}
