/// Every method and notification of the wire, in the order `docs/wire.md` lists them.
public enum WireMethods {
    /// The methods clients call.
    public static let all: [any WireMethod.Type] = [
        AuthenticateSession.self,
        DaemonStatus.self,
        ListInstruments.self,
        DescribeInstrument.self,
        InvokeMethod.self,
        GetProperty.self,
        SetProperty.self,
        AcquireLease.self,
        ReleaseLease.self,
        ListLeases.self,
        RevokeLease.self,
        ListHistory.self,
        ListAudit.self,
        WatchEvents.self,
        UnwatchEvents.self,
        UnplugSimulator.self,
        ReplugSimulator.self,
        OpenStream.self,
        CloseStream.self,
        StreamStatus.self,
    ]

    /// The notifications the server sends.
    public static let notifications: [any WireNotification.Type] = [
        EventNotification.self,
        StreamFrameNotification.self,
        StreamEndedNotification.self,
    ]
}
