#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (the first non-security URI of its deb822 or
# one-line sources), so that no script holds a mirror host of its own. Exits 1 when there is none.
set -euo pipefail
mirror=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
[ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
  | grep -v -- '-security' | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' | head -1 || true)
[ -n "$mirror" ] || { echo "debian-mirror: no Debian mirror in the apt sources" >&2; exit 1; }
echo "$mirror"
