import Foundation

/// Writes `docs/wire.md` from the wire types themselves: the framing, the envelope, the error
/// object, and every method and notification with encoded examples. A test keeps the
/// committed file equal to `markdown()`.
public enum WireDocument {
    /// The whole document.
    public static func markdown() -> String {
        var text = """
            # The Labvisor wire protocol

            Generated from `Sources/LabvisorProtocol` by `WireDocument.markdown()`; a test keeps
            this file in step with the code (`LABVISOR_WRITE_DOCS=1 swift test --filter
            WireDocumentTests` rewrites it). Everything a client needs is here.

            ## Transport and framing

            A client connects to the daemon's unix socket (default; see `docs/architecture.md`
            for the path rule) or, when the daemon's configuration opens one, its TCP port:
            `tls://HOST:PORT` (TLS; the usual case) or `tcp://HOST:PORT` (plain TCP, which the
            daemon allows only on a loopback address with `insecure = true`). Clients take the
            URL from `--connect` or `LABVISOR_URL`.

            Identity and access: a unix socket peer is its uid (`SO_PEERCRED`: the user and its
            groups). A TCP connection is anonymous until it authenticates: by a client
            certificate the daemon verifies (when it is configured with a client CA: the
            certificate's common name is the identity `cert:NAME`), or by sending
            `session.authenticate` with a bearer token as its first request (the token's name
            in the daemon's tokens file is the identity `token:NAME`). Before that, every other
            method answers `unauthenticated`. On a plain loopback listener (`insecure = true`)
            connections are admitted as anonymous callers, who match only `"*"` in access lists
            (and may still authenticate with a token). Access lists in the configuration say who
            may observe, control and administer each instrument; a refused request answers
            `permissionDenied` naming the rule, and the refusal is written to the audit log.
            A configuration reload can change the lists and the tokens file: a connection's
            next request is checked against the new ones. Requests refused before a TCP
            connection authenticated are written to the audit log too, the first 5 of each
            connection one by one and the rest as one count when it closes.

            Each message is one **frame**: a 4-byte big-endian length `N`, then `N` bytes.

            **Limits.** The daemon's configuration (`[daemon]` in `labvisord.toml`) bounds what
            one client may use; over a limit the client gets a `resourceExhausted` error whose
            `data.fields` name the `limit` and its `value`:

            | limit | key (default) | over it |
            |---|---|---|
            | message size in bytes | `max_message_size` (\(Framing.defaultMaxFrameSize)) | as soon as a frame's length prefix announces more: an error response with `id` null, then the daemon closes the connection (the rest of the frame is never read) |
            | connected clients | `max_clients` (64) | a new connection gets an error response with `id` null, then is closed |
            | calls in flight per client | `calls_in_flight` (256) | counts the calls that wait (invoke, get, set, acquire, history, stream.open); the excess one gets the error (with its `id`) at once; the connection stays |
            | streams per client | `streams_per_client` (8) | `stream.open` gets the error; the connection stays |

            A frame that is not a JSON object (nor a binary message) gets a JSON-RPC parse error
            (`-32700`, `id` null); the connection stays. A client that sends half a frame and
            then nothing, or never reads, holds only its own connection: other clients are not
            delayed.

            - A frame whose first byte is `{` is one JSON-RPC 2.0 message, UTF-8 JSON.
            - A frame whose first byte is `0x00` is a binary message: `0x00`, a 4-byte
              big-endian header length `H`, `H` bytes of JSON header, then the raw payload
              (camera frames travel this way, never as base64).

            ## Binary messages

            A binary message carries a JSON header and raw bytes in one frame:

            | bytes | content |
            |---|---|
            | 4 | frame length `L` (big-endian), as for every frame |
            | 1 | `0x00`, the binary marker |
            | 4 | header length `H` (big-endian) |
            | `H` | the header: a JSON-RPC notification, UTF-8 JSON |
            | `N` | the payload, raw; `N = L - 5 - H`, also given as `params.bytes` |

            Today the daemon sends one kind, `stream.frame` (a frame of a subscription made with
            `stream.open`; its header is shown under Notifications). Pixels are packed rows
            (`stride` = `width` × `bytesPerPixel`), in the format's own byte order: `Y16` is
            16-bit little-endian, `YUY2` is Y0 U Y1 V. Clients never send binary messages.

            **Backpressure.** Each subscription has a queue of `queue` frames in the daemon. The
            daemon writes a frame only while the connection's socket takes data; a client that
            reads slower than frames come loses the oldest waiting frames. Nothing is lost
            silently: a frame's `dropped` is the number of frames of the stream the client missed
            since the previous frame it got (equal to the gap in `sequence`), and
            `stream.status` has the totals. The daemon's memory per subscription is bounded by
            its queue.

            **Test pattern.** `labvisord --loopback` adds the `loopback` instrument; its
            `startFrames` method (width, height, format, fps, count) publishes a synthetic stream
            `frames` whose samples are `(x + 3 y + 5 sequence) mod 2^b`, where `x` counts the
            samples of a row (bytes for `GREY` and `YUY2`, 16-bit little-endian values for `Y16`,
            b = 8 or 16), so a client can check every byte it receives.

            ## Messages

            Requests are JSON-RPC 2.0: `{"jsonrpc": "2.0", "id": 7, "method": "...", "params": {...}}`.
            Responses carry the same `id` and either `result` or `error`. A client may send
            requests without waiting for earlier responses; responses may come in any order.
            Server notifications have a `method` and no `id`.

            ## Errors

            The error object's `code` is a JSON-RPC number; `message` is a sentence for people;
            `data.labvisorCode` is the stable code and `data.fields` the structured details
            (which argument, who holds the lease, since when, ...).

            \(example(ErrorObject(LabvisorError(
                .locked, "stage-x is locked by uid 1000 pid 4242 since 10:02:11 (2 waiting)",
                fields: ["instrument": "stage-x", "holder": "uid 1000 pid 4242", "since": 1_790_000_000.5, "waiters": 2]))))

            | `data.labvisorCode` | JSON-RPC `code` |
            |---|---|

            """
        for code in ErrorCode.allCases {
            text += "| `\(code.rawValue)` | \(ErrorObject.jsonRPCCode(for: code)) |\n"
        }
        text += "\nMalformed JSON gives the standard `-32700`, an unknown method `-32601`, bad params `-32602`"
        text += " (with `data.labvisorCode` `invalidArgument` naming the member).\n\n## Methods\n"
        for method in WireMethods.all {
            text += section(method)
        }
        text += "\n## Notifications\n"
        for notification in WireMethods.notifications {
            text += notificationSection(notification)
        }
        return text
    }

    private static func section<Method: WireMethod>(_ method: Method.Type) -> String {
        var text = "\n### `\(Method.name)`\n\n\(Method.summary)\n\nParameters:\n\n\(example(Method.exampleParams))\n\n"
        text += "Result:\n\n\(example(Method.exampleResult))\n"
        if !Method.errors.isEmpty {
            text += "\nErrors: \(Method.errors.map { "`\($0.rawValue)`" }.joined(separator: ", ")).\n"
        }
        return text
    }

    private static func notificationSection<Notification: WireNotification>(_ notification: Notification.Type) -> String {
        "\n### `\(Notification.name)`\n\n\(Notification.summary)\n\nParameters:\n\n\(example(Notification.exampleParams))\n"
    }

    private static func example(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "(not encodable)"
        return "```json\n\(json)\n```"
    }
}
