"""Contention demo, script 1 of 2: takes stage-x and works with it for a while.

Run it, then contention_waiter.py in another terminal while it holds the stage:

    python3 contention_holder.py --seconds 5 &
    python3 contention_waiter.py --timeout 30
"""

from __future__ import annotations

import argparse
import sys
import time

import labvisor


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to hold the stage")
    options = parser.parse_args(argv)
    with labvisor.connect() as lab:
        with lab.lock("stage-x", timeout=30) as stage:
            print(f"holder: got {stage.name} under lease {stage.lease.id}", flush=True)
            stage.home()
            end = time.monotonic() + options.seconds
            position = 0.0
            while time.monotonic() < end:
                position = 1.0 if position == 0.0 else 0.0
                stage.move_absolute(position)
                time.sleep(0.1)
            print("holder: done, releasing stage-x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
