#!/usr/bin/env bash
# Removes what scripts/install.sh installed (same PREFIX, DESTDIR and options; --purge also
# removes the configuration, the state directory and the labvisor user and group).
exec "$(dirname "$0")/install.sh" --uninstall "$@"
