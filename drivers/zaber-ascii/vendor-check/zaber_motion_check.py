#!/usr/bin/env python3
"""Talks to a (simulated) Zaber ASCII device through Zaber's own host library, zaber-motion.

Usage: zaber_motion_check.py <serial port path>

Exercises: Connection.open_serial_port, generic_command (get/set/home/move/stop, rejected
commands with check_errors=False, and the CommandFailedException with check_errors=True),
generic_command_multi_response (broadcast), detect_devices(identify_devices=False), and
Device/Axis objects from get_device/get_axis for generic commands. Prints one line per check
and exits 0 only when every check passed.
"""
import sys
import time

from zaber_motion import Library, LogOutputMode
from zaber_motion.ascii import Connection
from zaber_motion.exceptions import CommandFailedException

failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + (f": {detail}" if detail else ""), flush=True)
    if not condition:
        failures.append(name)


def wait_idle(connection, device, axis, deadline_s=10.0):
    """Polls `get pos` until IDLE; returns the positions seen."""
    seen = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        reply = connection.generic_command("get pos", device=device, axis=axis)
        seen.append(int(reply.data))
        if reply.status == "IDLE":
            return seen
        time.sleep(0.02)
    raise TimeoutError("axis did not become idle")


def main(path):
    Library.set_log_output(LogOutputMode.OFF)
    with Connection.open_serial_port(path) as connection:
        # The simulator may run slowly (ThreadSanitizer, a loaded machine): wait longer than
        # zaber-motion's default second for replies.
        connection.default_request_timeout = 3000
        check("checksums on by default", connection.checksum_enabled)
        # Device detection without the device database (which is online-only by default).
        devices = connection.detect_devices(identify_devices=False)
        check("detect_devices finds device 1", [d.device_address for d in devices] == [1], str(devices))

        replies = connection.generic_command_multi_response("get deviceid")
        check("broadcast get deviceid answered by one device", len(replies) == 1 and replies[0].device_address == 1,
              str(replies))
        count = int(connection.generic_command("get system.axiscount", device=1).data)
        check("get system.axiscount", count == 2, str(count))

        reply = connection.generic_command("get pos", device=1, axis=1)
        check("warning WR before homing", reply.warning_flag == "WR", reply.warning_flag)

        connection.generic_command("set maxspeed 1638400", device=1, axis=0)
        connection.generic_command("home", device=1, axis=0)
        wait_idle(connection, 1, 1)
        wait_idle(connection, 1, 2)
        reply = connection.generic_command("get pos", device=1, axis=0)
        check("homed: both axes at 0, no warning", reply.data.split() == ["0", "0"] and reply.warning_flag == "--",
              f"{reply.data} {reply.warning_flag}")

        connection.generic_command("move abs 200000", device=1, axis=1)
        seen = wait_idle(connection, 1, 1)
        check("move abs ends at the target", seen[-1] == 200000, str(seen[-1]))
        check("get pos mid-move gives intermediate positions", any(0 < p < 200000 for p in seen), str(seen[:5]))

        connection.generic_command("move rel -50000", device=1, axis=1)
        seen = wait_idle(connection, 1, 1)
        check("move rel", seen[-1] == 150000, str(seen[-1]))

        axis2 = connection.get_device(1).get_axis(2)
        axis2.generic_command("move abs 100000")
        seen = wait_idle(connection, 1, 2)
        check("Axis.generic_command on axis 2", seen[-1] == 100000, str(seen[-1]))

        connection.generic_command("set maxspeed 16384", device=1, axis=1)
        connection.generic_command("move abs 0", device=1, axis=1)
        time.sleep(0.2)
        reply = connection.generic_command("stop", device=1, axis=1)
        seen = wait_idle(connection, 1, 1)
        check("stop ends a move early", 0 < seen[-1] < 150000, str(seen[-1]))

        reply = connection.generic_command("move abs 999999999", device=1, axis=1, check_errors=False)
        check("out-of-range move rejected BADDATA", reply.reply_flag == "RJ" and reply.data == "BADDATA",
              f"{reply.reply_flag} {reply.data}")
        reply = connection.generic_command("fly away", device=1, axis=1, check_errors=False)
        check("unknown command rejected BADCOMMAND", reply.reply_flag == "RJ" and reply.data == "BADCOMMAND",
              f"{reply.reply_flag} {reply.data}")
        try:
            connection.generic_command("move abs 999999999", device=1, axis=1)
            check("check_errors raises CommandFailedException", False, "no exception")
        except CommandFailedException as error:
            check("check_errors raises CommandFailedException", "BADDATA" in str(error), str(error).splitlines()[0])

    print("FAILED: " + ", ".join(failures) if failures else "ALL CHECKS PASSED", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
