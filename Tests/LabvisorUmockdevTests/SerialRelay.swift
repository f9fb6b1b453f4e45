import LabvisorCore
import LabvisorHardware
import LabvisorSimulation

/// Copies bytes both ways between the device side of a umockdev tty node and a simulator's
/// PTY, so a reference simulator plays the device behind `/dev/ttyUSB0`.
final class SerialRelay: Sendable {
    private let tasks: [Task<Void, Never>]

    /// Starts copying until `stop()` or until either end goes away.
    init(device: SerialDeviceSide, simulator: SerialPort) {
        tasks = [
            Task {
                while !Task.isCancelled {
                    do {
                        let bytes = try await device.read(timeout: .milliseconds(500))
                        try await simulator.write(bytes, timeout: .seconds(5))
                    } catch let error as LabvisorError where error.code == .timeout {
                        continue
                    } catch {
                        return
                    }
                }
            },
            Task {
                while !Task.isCancelled {
                    do {
                        let bytes = try await simulator.read(upTo: 4096, timeout: .milliseconds(500))
                        try await device.write(bytes)
                    } catch let error as LabvisorError where error.code == .timeout {
                        continue
                    } catch {
                        return
                    }
                }
            },
        ]
    }

    /// Stops copying and waits until both directions have ended.
    func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}
