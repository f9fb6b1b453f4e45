import Testing

/// The USB suites, run one test at a time across all of them: each test re-runs itself in a
/// child process under `umockdev-wrapper` (under ThreadSanitizer, a heavy one), and children
/// of parallel suites starved the timing-sensitive tests of the other targets on 2 cores.
@Suite(.serialized) enum USBTests {}
