/// A fault the simulated camera injects into its stream. Frames are counted from 0 at every
/// commit, payloads from 0 within their frame.
public enum UVCCameraFault: Sendable, Hashable {
    /// The payload is sent with the header's error bit (0x40) set.
    case errorBit(frame: Int, payload: Int)
    /// The payload is cut to its header and half its data.
    case truncate(frame: Int, payload: Int)
    /// The payload is never sent (the next one follows at once).
    case drop(frame: Int, payload: Int)
    /// The payload's header length is 1, shorter than any header.
    case badHeader(frame: Int, payload: Int)
    /// From this payload on, the video endpoint stalls.
    case stall(frame: Int, payload: Int)

    var position: Position {
        switch self {
        case .errorBit(let frame, let payload), .truncate(let frame, let payload), .drop(let frame, let payload),
            .badHeader(let frame, let payload), .stall(let frame, let payload):
            Position(frame: frame, payload: payload)
        }
    }

    struct Position: Hashable {
        var frame: Int
        var payload: Int
    }
}
