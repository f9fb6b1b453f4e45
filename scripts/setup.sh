#!/usr/bin/env bash
# Installs the system packages Labvisor needs to build and test (Debian/Ubuntu).
# A no-op when they are present; uses sudo only when not root. Then the Python test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd: `systemd-analyze verify` checks config/labvisord.service in the tests.
# libsqlite3-dev: GRDB (the state store) links the system SQLite.
# libuvc-dev: the UVC camera simulator's cross-check with libuvc (target CLibUVCCheck); the
# package does not build without it.
packages=(pkg-config libusb-1.0-0-dev libudev-dev umockdev libumockdev-dev libuvc-dev systemd libsqlite3-dev)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    else
        sudo=(sudo)
    fi
    echo "setup: installing ${missing[*]}" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: the Swift toolchain (6.1 or newer) is not on PATH; install it from swift.org" >&2
    exit 1
fi

# Python tools the tests use to cross-check simulators against vendors' own host libraries
# (zaber-motion, thorlabs-apt-device): a virtual environment in .venv-tools, rebuilt when
# scripts/python-requirements.txt changes.
venv=.venv-tools
requirements=scripts/python-requirements.txt
if [ -s "$requirements" ]; then
    stamp="$venv/requirements.stamp"
    if [ ! -x "$venv/bin/python3" ] || ! cmp -s "$requirements" "$stamp"; then
        echo "setup: installing Python test tools into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$stamp"
    fi
fi

# The Python client (clients/python), installed into the same venv for its tests; reinstalled
# every run so the tests always see the working tree's code.
if [ -x "$venv/bin/python3" ]; then
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation ./clients/python
fi
