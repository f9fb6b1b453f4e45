"""Contention demo, script 2 of 2: wants stage-x while contention_holder.py has it.

First it asks without waiting and shows who holds the stage (LockedError's fields), then it
waits its turn in the daemon's FIFO queue, bounded by --timeout.
"""

from __future__ import annotations

import argparse
import sys
import time

import labvisor


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="how long to wait for the stage, s")
    options = parser.parse_args(argv)
    with labvisor.connect() as lab:
        try:
            lease = lab.lock("stage-x")
            print("waiter: stage-x was free", flush=True)
        except labvisor.LockedError as error:
            print(f"waiter: stage-x is locked by {error.holder} since {error.since:%H:%M:%S} "
                  f"({error.waiters} waiting, instrument {error.status}); waiting up to {options.timeout:g} s", flush=True)
            start = time.monotonic()
            try:
                lease = lab.lock("stage-x", timeout=options.timeout)
            except labvisor.TimeoutError as timeout:
                print(f"waiter: gave up: {timeout.message}", flush=True)
                return 1
            print(f"waiter: got stage-x after {time.monotonic() - start:.1f} s", flush=True)
        with lease as stage:
            print(f"waiter: stage-x at {stage.position:.3f} mm, moving to 2 mm", flush=True)
            stage.move_absolute(2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
