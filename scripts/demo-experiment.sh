#!/usr/bin/env bash
# The demo's scripted experiment, run by `labvisor lock ... -- scripts/demo-experiment.sh`:
# LABVISOR_LEASE names the lease, so every call below acts under it.
set -euo pipefail
labvisor() { "$LABVISOR_CLI" "$@"; }
step() { printf '  > labvisor %s\n' "$*"; labvisor "$@" | sed 's/^/    /'; }

echo "  (holding $LABVISOR_INSTRUMENTS)"
step call thorlabs-apt-sim home
step call thorlabs-apt-sim moveAbsolute position=2.5 --timeout 30s
step get thorlabs-apt-sim position
step set coherent-obis-sim powerSetpoint 0.05
step call coherent-obis-sim emissionOn
step call coherent-obis-sim waitForPower --timeout 10s
step get coherent-obis-sim measuredPower
step call coherent-obis-sim emissionOff
