import ArgumentParser
import Foundation
import LabvisorClient

/// `labvisor frames NAME [--stream S] [--count N] [--out FILE] [--json]`: receives frames
/// from an instrument's data stream; prints one line per frame, and with `--out` saves them
/// as PGM images.
struct FramesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frames", abstract: "Receive frames from an instrument's data stream (and save them as PGM images).",
        discussion: """
            Subscribes to the stream (stream.open) and takes the next N frames the driver publishes. \
            The acquisition is a driver method: --start calls it once subscribed, on the same connection \
            (`labvisor frames camera-1 --start startStreaming format=GREY width=640 height=480 --stop stopStreaming`), \
            under the lease LABVISOR_LEASE names (`labvisor lock camera-1 -- ...`). \
            Prints one line per frame (sequence, size, format, bytes, frames dropped since the previous one), \
            or its header as JSON with --json. With --out, frames are saved as binary PGM (P5): GREY as 8 bit, \
            Y16 as 16 bit big-endian (maxval 65535), YUY2 as its luma plane (8 bit). One frame goes to FILE; \
            with --count N > 1 frame i goes to FILE without .pgm, then -0001.pgm, -0002.pgm, ... \
            Each saved file's path is printed.
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "The instrument.") var name: String
    @Option(help: "The stream (default: the instrument's only or first stream).") var stream: String?
    @Option(help: "How many frames to take.") var count = 1
    @Option(help: "Save the frames as PGM images (see above).") var out: String?
    @Option(help: "Frames the daemon keeps for this client before dropping the oldest (1-64).") var queue = 4
    @Option(help: "How long to wait for each frame (30s, 500ms).", transform: parseDuration) var timeout: Duration = .seconds(10)
    @Option(help: "A method to call once subscribed, to start the acquisition (with the NAME=VALUE arguments), e.g. startStreaming.")
    var start: String?
    @Option(help: "A method to call after the last frame, e.g. stopStreaming.") var stop: String?
    @Argument(help: "NAME=VALUE arguments of the --start method.") var arguments: [String] = []

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard start != nil || arguments.isEmpty else { throw ValidationError("NAME=VALUE arguments go with --start METHOD") }
    }

    func run() async throws {
        let startArguments = try parseArguments(arguments, json: nil)
        try await options.run { labvisor in
            let token = ProcessInfo.processInfo.environment["LABVISOR_LEASE"]
            let frames = try await labvisor.frames(instrument: name, stream: stream, queue: queue, leaseToken: token)
            if let start {
                // Subscribed first, so the first frame the acquisition makes is not missed.
                try await labvisor.invoke(name, start, startArguments, timeout: .seconds(30), leaseToken: token)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for index in 1...count {
                guard let frame = try await frames.next(timeout: timeout) else {
                    throw LabvisorError(.closed, "the stream of \(name) ended after \(index - 1) of \(count) frames")
                }
                if options.json {
                    print(String(decoding: try encoder.encode(frame.header), as: UTF8.self))
                } else {
                    print("\(frame.sequence)\t\(frame.width)x\(frame.height)\t\(frame.format)\t\(frame.bytes.count) bytes\tdropped \(frame.dropped)")
                }
                if let out {
                    let path = PortableGraymap.path(out, index: index, count: count)
                    guard FileManager.default.createFile(atPath: path, contents: Data(try PortableGraymap.encode(frame))) else {
                        throw LabvisorError(.unavailable, "cannot write \(path)", fields: ["file": .string(path)])
                    }
                    print(path)
                }
                fflush(nil)
            }
            try await frames.close()
            if let stop { try await labvisor.invoke(name, stop, timeout: .seconds(30), leaseToken: token) }
        }
    }
}
