#!/usr/bin/env bash
# Installs the real components the test suite runs: Prometheus, node exporter, VictoriaMetrics,
# Keystone, Python gRPC, the genuine Aetos unpacked from Debian's forky suite (bookworm does not carry
# it), and podman, runc and mmdebstrap for the container image test (docs/container.md).
# Idempotent: a second run only checks. Any failure exits non-zero, so CI fails rather than skips.
# `install-test-deps.sh demo` installs only what the demo needs (Prometheus and node exporter).
set -euo pipefail
only_demo=false; [ "${1:-}" = demo ] && only_demo=true

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"

apt_packages=(
  prometheus prometheus-node-exporter
  victoria-metrics
  keystone sqlite3 curl
  nginx-light
  python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc
  python3-pecan python3-wsme uwsgi-core uwsgi-plugin-python3
  prometheus-libvirt-exporter
  python3-requests
  golang-go golang-google-grpc-dev golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev protoc-gen-go protoc-gen-go-grpc
)

# The container image test's tools, without their recommends (buildah, fuse-overlayfs, slirp4netns,
# dbus-user-session: nothing the rootful, host-network build and run here use).
container_packages=(podman runc mmdebstrap)

$only_demo && apt_packages=(prometheus prometheus-node-exporter) && container_packages=()
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
missing_container=()
for p in "${container_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing_container+=("$p")
done

if [ $((${#missing[@]} + ${#missing_container[@]})) -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Debian's packages would otherwise start keystone on 0.0.0.0:5000 and prometheus on :9090.
  if [ ! -x /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
  fi
  echo "install-test-deps: apt-get install ${missing[*]} ${missing_container[*]}"
  $sudo apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_container[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing_container[@]}" >/dev/null
  fi
fi

if $only_demo; then
  command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v prometheus-node-exporter >/dev/null \
    || { echo "install-test-deps: Prometheus is missing after install" >&2; exit 1; }
  exit 0
fi

aetos_root="$deps/aetos/root"
if [ ! -d "$aetos_root/usr/lib/python3/dist-packages/aetos" ]; then
  work="$deps/aetos/apt"
  rm -rf "$deps/aetos"; mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$aetos_root"
  # The machine's own Debian mirror (deb822 or one-line sources), never a host written in here.
  mirror=$(bash "$root/scripts/debian-mirror.sh")
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror forky main" > "$work/sources.list"
  opts=(-oDir::Etc::SourceList="$work/sources.list" -oDir::Etc::SourceParts=/dev/null
        -oDir::State::Lists="$work/lists" -oDir::Cache="$work/cache" -oDebug::NoLocking=1)
  echo "install-test-deps: downloading aetos and python3-observabilityclient from Debian forky"
  apt-get "${opts[@]}" -qq update
  (cd "$work" && apt-get "${opts[@]}" -qq download aetos python3-observabilityclient)
  for f in "$work"/*.deb; do dpkg -x "$f" "$aetos_root"; done
  # The package's api-paste.ini is a symlink into /etc; use the shipped copy instead.
  paste="$aetos_root/usr/lib/python3/dist-packages/aetos/api-paste.ini"
  rm -f "$paste"; cp "$aetos_root/usr/share/aetos/api-paste.ini" "$paste"
fi

for cmd in prometheus promtool prometheus-node-exporter victoria-metrics nginx prometheus-libvirt-exporter keystone-manage keystone-wsgi-public uwsgi protoc grpc_python_plugin go protoc-gen-go protoc-gen-go-grpc podman runc mmdebstrap; do
  command -v "$cmd" >/dev/null || { echo "install-test-deps: $cmd is missing after install" >&2; exit 1; }
done
/usr/bin/python3 -c 'import grpc, google.protobuf' || { echo "install-test-deps: python3-grpcio unusable" >&2; exit 1; }

# The suite's expected numbers were worked out against these versions: an upgrade must show as this
# message, not as confusing value mismatches later. Prefixes, so that Debian security updates pass.
check_version() {
  local what=$1 found=$2 expected=$3
  case "$found" in
    "$expected"*) ;;
    *) echo "install-test-deps: $what is $found, the suite is pinned to $expected (update scripts/install-test-deps.sh and re-check the expected values)" >&2; exit 1 ;;
  esac
}
check_version prometheus "$(dpkg-query -W -f='${Version}' prometheus)" "2.42."
check_version prometheus-node-exporter "$(dpkg-query -W -f='${Version}' prometheus-node-exporter)" "1.5."
# docs/backends.md's measurements (MetricsQL against PromQL) were made on VictoriaMetrics 1.79.
check_version victoria-metrics "$(dpkg-query -W -f='${Version}' victoria-metrics)" "1.79."
check_version keystone "$(dpkg-query -W -f='${Version}' keystone)" "2:22."
check_version prometheus-libvirt-exporter "$(dpkg-query -W -f='${Version}' prometheus-libvirt-exporter)" "0.2.0"
# The container settings in scripts/podman.sh (runc, ulimits, cgroupfs) were worked out on podman 4.3.
check_version podman "$(dpkg-query -W -f='${Version}' podman)" "4.3."
aetos_version=$(ls "$aetos_root"/usr/lib/python3/dist-packages | sed -n 's/^aetos-\([0-9.]*\)\.egg-info$/\1/p' | head -1)
check_version aetos "$aetos_version" "3.0."
echo "install-test-deps: ready (prometheus $(dpkg-query -W -f='${Version}' prometheus), node exporter $(dpkg-query -W -f='${Version}' prometheus-node-exporter), victoria-metrics $(dpkg-query -W -f='${Version}' victoria-metrics), keystone $(dpkg-query -W -f='${Version}' keystone), aetos $aetos_version, libvirt exporter $(dpkg-query -W -f='${Version}' prometheus-libvirt-exporter), python3-grpcio $(dpkg-query -W -f='${Version}' python3-grpcio), podman $(dpkg-query -W -f='${Version}' podman), runc $(dpkg-query -W -f='${Version}' runc), mmdebstrap $(dpkg-query -W -f='${Version}' mmdebstrap))"
