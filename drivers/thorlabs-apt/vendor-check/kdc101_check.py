#!/usr/bin/env python3
"""Cross-checks the KDC101 simulator with Thorlabs-APT host library `thorlabs-apt-device`.

Usage: kdc101_check.py <pty path>

Opens the port with the library's KDC101 class (which enables the channel, reads the
velocity/jog/home/general-move parameters, homes one second after opening, and polls
MOT_REQ_DCSTATUSUPDATE every 10 ms), then homes, moves absolute and relative, stops a
long move immediately, and checks what the library decoded. Exits 0 and prints
"vendor check passed" when every check holds; prints the failure and exits 1 otherwise.
"""
import sys
import time

from thorlabs_apt_device import KDC101

COUNTS_PER_MM = 34554.96  # Z8xx actuators, APT Communications Protocol


def wait_for(what, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def main(path):
    errors = []
    stage = KDC101(serial_port=path, home=True)
    stage.register_error_callback(lambda **error: errors.append(error))
    try:
        status = stage.status
        wait_for("the homing started at open to finish", lambda: status["homed"] and not status["homing"])
        wait_for("the velocity parameters", lambda: stage.velparams["max_velocity"] > 0)
        assert stage.velparams["acceleration"] > 0, stage.velparams
        assert stage.homeparams["home_velocity"] > 0, stage.homeparams
        assert status["channel_enabled"], status
        assert status["motor_connected"], status

        def at(counts):
            moving = status["moving_forward"] or status["moving_reverse"]
            return not moving and abs(status["position"] - counts) <= 1

        seen_moving = []
        target = round(2.0 * COUNTS_PER_MM)
        stage.move_absolute(target)
        wait_for("the move to start", lambda: status["moving_forward"] or status["moving_reverse"], timeout=2)
        seen_moving.append(True)
        wait_for("the absolute move to 2 mm", lambda: at(target))

        target -= round(0.5 * COUNTS_PER_MM)
        stage.move_relative(-round(0.5 * COUNTS_PER_MM))
        wait_for("the relative move to 1.5 mm", lambda: at(target))

        stage.move_absolute(round(20 * COUNTS_PER_MM))
        wait_for("the long move to get going", lambda: status["position"] > target + 1000, timeout=3)
        stage.stop(immediate=True)
        wait_for("the stop", lambda: not (status["moving_forward"] or status["moving_reverse"]), timeout=2)
        stopped = status["position"]
        time.sleep(0.3)
        assert status["position"] == stopped, f"the stage kept moving after the stop: {stopped} -> {status['position']}"
        assert stopped < round(20 * COUNTS_PER_MM), stopped

        assert not errors, f"the library reported device errors: {errors}"
        print(f"vendor check passed: homed, moved to 2.0 and 1.5 mm, stopped at {stopped / COUNTS_PER_MM:.3f} mm;"
              f" velparams {stage.velparams['max_velocity']}/{stage.velparams['acceleration']}; moving seen: {bool(seen_moving)}")
    finally:
        stage.close()
        time.sleep(0.3)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except AssertionError as failure:
        print(f"vendor check failed: {failure}")
        sys.exit(1)
