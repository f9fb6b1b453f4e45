/// What kind of instrument a driver runs (`kind` in `driver.toml`).
public enum DriverKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// A motion stage, flip mount, rotation mount.
    case stage
    /// A laser or other light source.
    case laser
    /// A camera.
    case camera
    /// A sensor (power meter, thermometer, ...).
    case sensor
    /// Anything else.
    case other
}
