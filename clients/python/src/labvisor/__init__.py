"""labvisor: the Python client of labvisord (run lab instruments from scripts).

```python
import labvisor
with labvisor.connect() as lab:                    # same default socket as the CLI
    for inst in lab.instruments(where={"kind": "stage"}):
        print(inst.name, inst.state)
    laser = lab.instrument("laser-488")            # observer: reads without a lease
    print(laser.status)
    with lab.lock("stage-x", timeout=10) as stage: # lease; released on exit, always
        stage.home()
        stage.move_absolute(12.5)                  # methods from the daemon's schema
        print(stage.position)                      # properties read and write
    with lab.lock(where={"kind": "camera"}) as cam:
        cam.start_streaming()
        for frame in cam.frames(count=10):         # frame.array: a numpy array
            print(frame.sequence, frame.array.mean())
    for event in lab.watch("stage-x", timeout=5):
        print(event)
```

Only the standard library is used for the wire; frames are numpy arrays when numpy is
installed (else bytes with shape and dtype). See docs/python.md for the tutorial.
"""

from .client import (Event, Instrument, InstrumentSummary, Lab, Lease, LeaseInfo, Watch, connect, python_name)
from ._frames import Frame, FrameStream, numpy_enabled, use_numpy
from .endpoint import Endpoint, default_socket_path, endpoint_from_environment, parse_endpoint
from .errors import (ClosedError, DeadlineExceededError, DeviceGoneError, DriverFaultError, InvalidArgumentError,
                     LabvisorError, LeaseRequiredError, LeaseRevokedError, LockedError, NotFoundError,
                     PermissionDeniedError, ResourceExhaustedError, TimeoutError, UnauthenticatedError,
                     UnavailableError, UnknownMethodError, error_class)

__version__ = "0.1.0"

__all__ = [
    "connect", "Lab", "Instrument", "InstrumentSummary", "Lease", "LeaseInfo", "Watch", "Event", "python_name",
    "Frame", "FrameStream", "use_numpy", "numpy_enabled",
    "Endpoint", "default_socket_path", "endpoint_from_environment", "parse_endpoint",
    "LabvisorError", "NotFoundError", "LockedError", "LeaseRequiredError", "LeaseRevokedError", "InvalidArgumentError",
    "UnknownMethodError", "DeadlineExceededError", "TimeoutError", "DeviceGoneError", "DriverFaultError",
    "ClosedError", "ResourceExhaustedError", "PermissionDeniedError", "UnauthenticatedError", "UnavailableError",
    "error_class", "__version__",
]
