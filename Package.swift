// swift-tools-version: 6.1
import PackageDescription

/// The reference drivers: each folder `drivers/<id>/` holds its manifest, README, and three
/// targets: the driver (`Driver/`, imports LabvisorDriverKit only), the simulator of the device
/// (`Simulator/`, imports LabvisorSimulation only, never the driver: it follows the vendor's
/// protocol on its own), and the tests that run one against the other (`Tests/`).
let referenceDrivers: [(folder: String, module: String)] = [
    ("zaber-ascii", "ZaberASCII"),
    ("thorlabs-apt", "ThorlabsAPT"),
    ("coherent-obis", "CoherentOBIS"),
    ("uvc-camera", "UVCCamera"),
    ("example-heater", "ExampleHeater"),
]

/// What a driver's tests use beyond the common targets: host implementations of the vendor or
/// of the device class, to check the simulator against (`drivers/<id>/vendor-check/`).
let vendorCheckTargets: [String: [Target.Dependency]] = ["uvc-camera": ["CLibUVCCheck"]]

func driverTargets(folder: String, module: String) -> [Target] {
    [
        .target(name: module, dependencies: ["LabvisorDriverKit"], path: "drivers/\(folder)/Driver"),
        .target(name: "\(module)Simulator", dependencies: ["LabvisorSimulation"], path: "drivers/\(folder)/Simulator"),
        .testTarget(
            name: "\(module)Tests",
            dependencies: [
                .target(name: module), .target(name: "\(module)Simulator"), "LabvisorDriverKit", "LabvisorSimulation",
                "LabvisorDriverTesting",
            ] + (vendorCheckTargets[folder] ?? []),
            path: "drivers/\(folder)/Tests"),
    ]
}

/// Labvisor: a lab-hardware supervisor. See `README.md` and `docs/architecture.md`.
let package = Package(
    name: "labvisor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LabvisorCore", targets: ["LabvisorCore"]),
        .library(name: "LabvisorHardware", targets: ["LabvisorHardware"]),
        .library(name: "LabvisorDriverKit", targets: ["LabvisorDriverKit"]),
        .library(name: "LabvisorSimulation", targets: ["LabvisorSimulation"]),
        .library(name: "LabvisorProtocol", targets: ["LabvisorProtocol"]),
        .library(name: "LabvisorServer", targets: ["LabvisorServer"]),
        .library(name: "LabvisorClient", targets: ["LabvisorClient"]),
        .executable(name: "labvisor-bench", targets: ["labvisor-bench"]),
        .executable(name: "labvisor", targets: ["labvisor"]),
        .executable(name: "labvisord", targets: ["labvisord"]),
        .library(name: "LabvisorReferenceDrivers", targets: ["LabvisorReferenceDrivers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The /healthz and /metrics listener.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The state store (SQLite). On Linux GRDB links the system SQLite (`libsqlite3-dev`).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // TLS on the TCP listener and in the Swift client.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // System libraries, found through pkg-config (`scripts/setup.sh` installs them).
        .systemLibrary(
            name: "CLibUSB", path: "Sources/CLibUSB", pkgConfig: "libusb-1.0",
            providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(
            name: "CUdev", path: "Sources/CUdev", pkgConfig: "libudev",
            providers: [.apt(["libudev-dev"])]),
        // umockdev's testbed API, for the hardware tests and the discovery benchmark (never in the daemon).
        .systemLibrary(
            name: "CUMockdev", path: "Sources/CUMockdev", pkgConfig: "umockdev-1.0",
            providers: [.apt(["libumockdev-dev"])]),
        // libuvc, an independent UVC host, and the check that streams the camera simulator with it
        // (tests only: UVCCameraTests' LibUVCCrossCheckTests).
        .systemLibrary(
            name: "CLibUVC", path: "Sources/CLibUVC", pkgConfig: "libuvc", providers: [.apt(["libuvc-dev"])]),
        .target(
            name: "CLibUVCCheck", dependencies: ["CLibUVC"], path: "drivers/uvc-camera/vendor-check",
            sources: ["libuvc_check.c"], cSettings: [.define("LIBUVC_CHECK_LIBRARY")],
            linkerSettings: [.linkedLibrary("uvc")]),

        // The concepts of DESIGN.md, pure Swift, no I/O.
        .target(
            name: "LabvisorCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // epoll and eventfd, which Glibc's Swift module does not export.
        .target(name: "CLinuxIO"),
        // termios2 (`BOTHER` custom baud rates); `<asm/termbits.h>` stays in its own .c file.
        .target(name: "CSerialShim"),
        // libusb_set_option (a C variadic, which Swift cannot call).
        .target(name: "CLibUSBShim", linkerSettings: [.linkedLibrary("usb-1.0")]),
        // usbdevfs URBs and ioctl numbers, for the device side of simulated USB devices.
        .target(name: "CUSBDevFS"),
        // udev discovery, libusb, serial ports (I/O).
        // Driver manifests (TOML), matching and udev rules generation live here too.
        .target(
            name: "LabvisorHardware",
            dependencies: [
                "LabvisorCore", "CLibUSB", "CLibUSBShim", "CUdev", "CLinuxIO", "CSerialShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),
        // The SDK that drivers import.
        .target(name: "LabvisorDriverKit", dependencies: ["LabvisorCore", "LabvisorHardware"]),
        // The device side of instruments, for tests and demo mode.
        // (umockdev testbeds and device records live here, shared by tests and the bench).
        .target(
            name: "LabvisorSimulation",
            dependencies: [
                "LabvisorCore", "LabvisorHardware", "CUMockdev", "CUMockdevTTY", "CSerialShim", "CUSBDevFS",
                .product(name: "DequeModule", package: "swift-collections"),
            ]),
        // The device side of a umockdev tty node: the ioctl handler (TIOCEXCL, modem lines) in C,
        // since it is a GObject signal handler that runs on umockdev's thread.
        .target(name: "CUMockdevTTY", dependencies: ["CUMockdev"]),
        // Wire messages shared by the server and the clients.
        .target(
            name: "LabvisorProtocol",
            dependencies: ["LabvisorCore", .product(name: "NIOCore", package: "swift-nio")]),
        // Supervisor, wire server, config, store, systemd.
        .target(
            name: "LabvisorServer",
            dependencies: [
                "LabvisorCore", "LabvisorProtocol", "LabvisorHardware", "LabvisorDriverKit", "LabvisorSimulation",
                "LabvisorReferenceDrivers",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),  // the store's hot inserts bind through the C API
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]),
        // The Swift client library.
        .target(
            name: "LabvisorClient",
            dependencies: [
                "LabvisorProtocol",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),

        .executableTarget(
            name: "labvisor-bench",
            dependencies: [
                "LabvisorCore", "LabvisorHardware",
                "LabvisorSimulation",  // discovery.hotplug runs against a umockdev testbed
                "LabvisorClient",  // wire.echo calls a real labvisord
                "LabvisorServer",  // wire.dispatch: the dispatcher in process, without the socket
                .product(name: "Logging", package: "swift-log"),
                "LabvisorDriverKit", "ZaberASCII", "ZaberASCIISimulator",  // zaber.getpos
                "UVCCamera", "UVCCameraSimulator",  // camera.stream: the driver against its simulator
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // The daemon (thin: the parts live in LabvisorServer).
        .executableTarget(
            name: "labvisord",
            dependencies: [
                "LabvisorServer", "LabvisorHardware", "LabvisorReferenceDrivers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // What driver tests share: the driver on its simulator through DriverHost, recorded events.
        .target(name: "LabvisorDriverTesting", dependencies: ["LabvisorDriverKit", "LabvisorSimulation"]),

        // Every reference driver and simulator, by id: what the daemon and `labvisor simulate` load.
        .target(
            name: "LabvisorReferenceDrivers",
            dependencies: ["LabvisorDriverKit", "LabvisorSimulation"]
                + referenceDrivers.flatMap { [.target(name: $0.module), .target(name: "\($0.module)Simulator")] }),

        // The command-line tool (`labvisor udev-rules`, `labvisor simulate`, ...).
        .executableTarget(
            name: "labvisor",
            dependencies: [
                "LabvisorHardware", "LabvisorReferenceDrivers", "LabvisorSimulation", "LabvisorClient",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(
            name: "LabvisorCoreTests",
            dependencies: [
                "LabvisorCore", "LabvisorDriverTesting",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "LabvisorHardwareTests", dependencies: ["LabvisorHardware", "LabvisorCore", "CSerialShim"]),
        // Runs the real libudev code against umockdev testbeds. Each test re-runs itself
        // under `umockdev-wrapper` when the preload is missing; fails loudly without umockdev.
        .testTarget(
            name: "LabvisorUmockdevTests",
            dependencies: [
                "LabvisorHardware", "LabvisorSimulation", "LabvisorDriverTesting", "LabvisorClient", "LabvisorReferenceDrivers",
                "LabvisorServer",
                "CUSBDevFS",  // RawURBHost: a host that submits usbdevfs URBs itself
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "LabvisorProtocolTests", dependencies: ["LabvisorProtocol"]),
        .testTarget(
            name: "LabvisorServerTests",
            dependencies: [
                "LabvisorServer", "LabvisorProtocol", "LabvisorHardware", "LabvisorReferenceDrivers", "LabvisorDriverTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),  // the store's hot inserts bind through the C API
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The real daemon process, driven by the real clients (needs the built executables).
        // (LabvisorServer for the systemd notifier's in-process tests, beside the daemon's.)
        .testTarget(
            name: "LabvisorEndToEndTests",
            dependencies: ["LabvisorClient", "LabvisorServer", "LabvisorDriverTesting", .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(
            name: "LabvisorDriverKitTests",
            dependencies: ["LabvisorDriverKit", "LabvisorSimulation", "LabvisorReferenceDrivers", "LabvisorDriverTesting"]),
    ] + referenceDrivers.flatMap { driverTargets(folder: $0.folder, module: $0.module) },
    swiftLanguageModes: [.v6]
)
