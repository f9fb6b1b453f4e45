#!/usr/bin/env bash
# The demo's scripted experiment, run by `labvisor lock ... -- scripts/demo-experiment.sh`:
# LABVISOR_LEASE names the lease, so every call below acts under it.
set -euo pipefail
labvisor() { "$LABVISOR_CLI" "$@"; }
step() { printf '  > labvisor %s\n' "$*"; labvisor "$@" | sed 's/^/    /'; }

echo "  (holding $LABVISOR_INSTRUMENTS)"
step call stage-x home --timeout 30s
step call stage-x moveAbsolute position=12.5 --timeout 30s
step get stage-x position
step call stage-z home --timeout 30s
step call stage-z moveAbsolute position=2.5 --timeout 30s
step get stage-z position
step set laser-488 powerSetpoint 0.05
step call laser-488 emissionOn
step call laser-488 waitForPower --timeout 10s
step get laser-488 measuredPower
step call laser-488 emissionOff
# Three frames from the camera, subscribed before the acquisition starts, saved as PGM images.
shots=$(mktemp -d "${TMPDIR:-/tmp}/labvisor-demo-shots.XXXXXX")
step frames camera-1 --count 3 --out "$shots/camera-1.pgm" \
    --start startStreaming format=GREY width=640 height=480 --stop stopStreaming
echo "  camera images: $shots/camera-1-0001.pgm (and -0002, -0003)"
