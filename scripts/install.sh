#!/usr/bin/env bash
# Installs Labvisor from this checkout: a release build of labvisord and labvisor, the systemd
# unit, the udev rules, the default configuration (never overwriting an existing one), the
# driver manifests and the demo configuration, and the `labvisor` system user and group.
# `--uninstall` (or scripts/uninstall.sh) removes what an install put there, using the list
# of files it recorded. docs/operations.md describes both.
#
#   sudo scripts/install.sh                       # PREFIX=/usr/local
#   sudo PREFIX=/opt/labvisor scripts/install.sh
#   DESTDIR=/tmp/stage scripts/install.sh         # stage a tree for packaging (no user, no systemctl)
#   sudo scripts/install.sh --uninstall [--purge] # --purge also drops the config, state and user
#
# Options: --prefix DIR (or PREFIX), --destdir DIR (or DESTDIR), --skip-build (use binaries
# already built), --bin-dir DIR (where those binaries are; default: the release build folder),
# --uninstall, --purge, --no-start (do not enable and start the service).
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
build=yes
bin_dir=
mode=install
purge=no
start=yes

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --destdir) DESTDIR=$2; shift 2 ;;
        --destdir=*) DESTDIR=${1#*=}; shift ;;
        --skip-build) build=no; shift ;;
        --bin-dir) bin_dir=$2; build=no; shift 2 ;;
        --bin-dir=*) bin_dir=${1#*=}; build=no; shift ;;
        --uninstall) mode=uninstall; shift ;;
        --purge) purge=yes; shift ;;
        --no-start) start=no; shift ;;
        -h|--help) usage ;;
        *) echo "install: unknown option '$1'" >&2; usage ;;
    esac
done

case "$PREFIX" in
    /*) ;;
    *) echo "install: PREFIX must be an absolute path, got '$PREFIX'" >&2; exit 2 ;;
esac
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR%/}

say() { echo "install: $*" >&2; }

bindir=$PREFIX/bin
sharedir=$PREFIX/share/labvisor
docdir=$PREFIX/share/doc/labvisor
confdir=$SYSCONFDIR/labvisor
unitdir=$SYSCONFDIR/systemd/system
rulesdir=$SYSCONFDIR/udev/rules.d
manifest=$sharedir/installed-files     # every file the install wrote, one path a line
config=$confdir/labvisord.toml

# Only a real install (no DESTDIR) touches the running system: users, systemd, udev.
live=no
if [ -z "$DESTDIR" ]; then
    live=yes
    if [ "$(id -u)" -ne 0 ]; then
        say "installing into the system needs root: run it with sudo (or stage a tree with DESTDIR=...)"
        exit 1
    fi
fi
systemd_running() { [ "$live" = yes ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
udev_running() { [ "$live" = yes ] && command -v udevadm >/dev/null 2>&1 && udevadm control --ping >/dev/null 2>&1; }

# put SOURCE TARGET MODE: installs one file and records it.
put() {
    install -D -m "$3" "$1" "$DESTDIR$2"
    echo "$2" >> "$DESTDIR$manifest.new"
}

install_all() {
    if [ "$build" = yes ]; then
        say "building a release build (swift build -c release)"
        swift build -c release --product labvisord
        swift build -c release --product labvisor
        bin_dir=$(swift build -c release --show-bin-path)
    elif [ -z "$bin_dir" ]; then
        bin_dir=$(swift build -c release --show-bin-path)
    fi
    for binary in labvisord labvisor; do
        if [ ! -x "$bin_dir/$binary" ]; then
            say "no $binary in $bin_dir: build it (swift build -c release --product $binary) or drop --skip-build"
            exit 1
        fi
    done

    mkdir -p "$DESTDIR$sharedir"
    : > "$DESTDIR$manifest.new"
    put "$bin_dir/labvisord" "$bindir/labvisord" 0755
    put "$bin_dir/labvisor" "$bindir/labvisor" 0755

    local staged
    staged=$(mktemp)
    trap 'rm -f "$staged"' RETURN
    sed -e "s|/usr/local/bin/labvisord|$bindir/labvisord|g" -e "s|/usr/local/share/doc/labvisor|$docdir|g" \
        config/labvisord.service > "$staged"
    put "$staged" "$unitdir/labvisord.service" 0644
    put udev-rules/70-labvisor.rules "$rulesdir/70-labvisor.rules" 0644

    local driver id
    for driver in drivers/*/driver.toml; do
        id=$(basename "$(dirname "$driver")")
        put "$driver" "$sharedir/drivers/$id/driver.toml" 0644
        [ -f "drivers/$id/README.md" ] && put "drivers/$id/README.md" "$sharedir/drivers/$id/README.md" 0644
    done
    # The demo keeps the checkout's layout: config/demo.toml reads ../drivers.
    put config/demo.toml "$sharedir/config/demo.toml" 0644
    sed -e "s|/usr/share/labvisor|$sharedir|g" config/labvisord.toml > "$staged"
    put "$staged" "$sharedir/config/labvisord.toml" 0644
    put docs/operations.md "$docdir/operations.md" 0644
    put udev-rules/README.md "$docdir/udev-rules.md" 0644

    # The configuration: never overwritten; not in the file list (uninstall keeps an edited one).
    if [ -e "$DESTDIR$config" ]; then
        say "kept the existing $config (the new default is $sharedir/config/labvisord.toml)"
    else
        install -D -m 0644 "$staged" "$DESTDIR$config"
        say "installed the default configuration $config"
    fi
    echo "$manifest" >> "$DESTDIR$manifest.new"
    # An upgrade drops what the previous install wrote and this one did not (a removed driver).
    if [ -f "$DESTDIR$manifest" ]; then
        local stale
        while IFS= read -r stale; do
            [ -n "$stale" ] && rm -f "$DESTDIR$stale" && say "removed $stale (no longer shipped)"
        done < <(grep -vxF -f "$DESTDIR$manifest.new" "$DESTDIR$manifest" || true)
    fi
    mv "$DESTDIR$manifest.new" "$DESTDIR$manifest"

    if [ "$live" = yes ]; then
        if ! getent group labvisor >/dev/null; then
            groupadd --system labvisor
            say "created the system group labvisor"
        fi
        if ! getent passwd labvisor >/dev/null; then
            useradd --system --gid labvisor --home-dir /var/lib/labvisor --no-create-home \
                --shell /usr/sbin/nologin --comment "Labvisor daemon" labvisor
            say "created the system user labvisor"
        fi
        chgrp labvisor "$config" && chmod 0640 "$config"
    else
        say "DESTDIR is set: not creating the labvisor user and group (do it when the tree is installed:" \
            "groupadd --system labvisor; useradd --system --gid labvisor --no-create-home --shell /usr/sbin/nologin labvisor)"
    fi
    if udev_running; then
        udevadm control --reload
        udevadm trigger --subsystem-match=tty --subsystem-match=usb --action=change
        say "udev rules reloaded"
    elif [ "$live" = yes ]; then
        say "udev is not running: the rules apply from the next boot"
    fi
    if systemd_running; then
        systemctl daemon-reload
        if [ "$start" = yes ]; then
            systemctl enable labvisord.service
            systemctl restart labvisord.service
            say "labvisord enabled and (re)started: systemctl status labvisord"
        fi
    elif [ "$live" = yes ]; then
        say "systemd is not running here: start the daemon yourself ($bindir/labvisord --config $config)"
    fi
    say "installed into ${DESTDIR:-/} with PREFIX=$PREFIX"
}

uninstall_all() {
    if [ ! -f "$DESTDIR$manifest" ]; then
        say "nothing to uninstall: no $DESTDIR$manifest (was it installed with another PREFIX?)"
        exit 1
    fi
    if systemd_running; then
        systemctl disable --now labvisord.service 2>/dev/null || true
    fi
    local path
    while IFS= read -r path; do
        [ -n "$path" ] && rm -f "$DESTDIR$path"
    done < "$DESTDIR$manifest"
    # The configuration goes when it is the default or with --purge; an edited one stays.
    if [ -e "$DESTDIR$config" ]; then
        local default
        default=$(mktemp)
        sed -e "s|/usr/share/labvisor|$sharedir|g" config/labvisord.toml > "$default"
        if [ "$purge" = yes ] || cmp -s "$default" "$DESTDIR$config"; then
            rm -f "$DESTDIR$config"
        else
            say "kept $config: it was edited (--purge removes it)"
        fi
        rm -f "$default"
    fi
    local folder
    for folder in "$DESTDIR$sharedir/drivers"/*; do
        [ -d "$folder" ] && rmdir --ignore-fail-on-non-empty "$folder"
    done
    for folder in "$sharedir/drivers" "$sharedir/config" "$sharedir" "$docdir" "$confdir" \
        "$unitdir" "$rulesdir" "$SYSCONFDIR/udev" "$SYSCONFDIR/systemd" "$bindir"; do
        [ -d "$DESTDIR$folder" ] && rmdir --ignore-fail-on-non-empty "$DESTDIR$folder"
    done
    if [ -n "$DESTDIR" ]; then
        # A staged tree is left as empty as it was before the install.
        for folder in "$PREFIX/share/doc" "$PREFIX/share" "$PREFIX" "$SYSCONFDIR"; do
            while [ "$folder" != / ] && [ -d "$DESTDIR$folder" ]; do
                rmdir --ignore-fail-on-non-empty "$DESTDIR$folder"
                folder=$(dirname "$folder")
            done
        done
    fi
    if [ "$live" = yes ]; then
        if [ "$purge" = yes ]; then
            rm -rf /var/lib/labvisor
            getent passwd labvisor >/dev/null && userdel labvisor
            getent group labvisor >/dev/null && groupdel labvisor
            say "removed the state in /var/lib/labvisor and the labvisor user and group"
        else
            say "kept the state in /var/lib/labvisor and the labvisor user and group (--purge removes them)"
        fi
        systemd_running && systemctl daemon-reload
        udev_running && udevadm control --reload
    fi
    say "uninstalled from ${DESTDIR:-/} (PREFIX=$PREFIX)"
}

if [ "$mode" = install ]; then install_all; else uninstall_all; fi
