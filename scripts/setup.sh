#!/usr/bin/env bash
# Installs the system packages Labvisor needs to build and test (Debian/Ubuntu).
# A no-op when they are present; uses sudo only when not root.
set -euo pipefail

packages=(pkg-config libusb-1.0-0-dev libudev-dev umockdev libumockdev-dev)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
else
    sudo=(sudo)
fi

echo "setup: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: the Swift toolchain (6.1 or newer) is not on PATH; install it from swift.org" >&2
    exit 1
fi
