"""Watch and log: prints every event of the lab (or of some instruments) as it happens, for a
while or until Ctrl-C, and appends them to a log file as JSON lines.

    python3 watch_and_log.py                      # everything, until Ctrl-C
    python3 watch_and_log.py stage-x laser-488 --duration 60 --log events.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys

import labvisor


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instruments", nargs="*", help="instruments to watch (default: all)")
    parser.add_argument("--kind", action="append", dest="kinds", help="only this kind of event (repeatable)")
    parser.add_argument("--duration", type=float, default=None, help="seconds to watch (default: until Ctrl-C)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many events")
    parser.add_argument("--log", default=None, help="append events to this file as JSON lines")
    options = parser.parse_args(argv)
    log = open(options.log, "a") if options.log else None
    seen = 0
    try:
        with labvisor.connect() as lab:
            with lab.watch(options.instruments or None, kinds=options.kinds, timeout=options.duration) as events:
                # Subscribed: from here on nothing is missed.
                print(f"watching {', '.join(options.instruments) or 'every instrument'} on {lab.endpoint}", flush=True)
                for event in events:
                    print(event, flush=True)
                    if log:
                        log.write(json.dumps({"time": event.time.isoformat(), "sequence": event.sequence,
                                              "kind": event.kind, "instrument": event.instrument,
                                              "fields": event.fields}) + "\n")
                        log.flush()
                    seen += 1
                    if options.count is not None and seen >= options.count:
                        break
    except KeyboardInterrupt:
        pass
    finally:
        if log:
            log.close()
    print(f"{seen} events", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
