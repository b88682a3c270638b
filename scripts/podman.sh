#!/usr/bin/env bash
# podman with every piece of its state in one scratch directory, $PODMAN_SCRATCH: a private
# containers.conf and storage.conf (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF) written there on first
# use, so that nothing of the machine's podman setup is read or changed. The settings are what this
# kind of machine needs (docs/container.md): runc (crun 1.8 refuses hybrid cgroups), ulimits no higher
# than the hard limits (podman's defaults are, and root cannot raise them here), cgroupfs and a file events log (no
# systemd, no journald), k8s-file container logs.
#
#   PODMAN_SCRATCH=DIR scripts/podman.sh ARGS...   runs `podman ARGS...`
#   PODMAN_SCRATCH=DIR scripts/podman.sh --remove  removes every container and image there, then DIR
set -euo pipefail
: "${PODMAN_SCRATCH:?PODMAN_SCRATCH must name a scratch directory for the state of podman}"

if [ "${1:-}" = --remove ]; then
  [ -d "$PODMAN_SCRATCH" ] || exit 0
  if [ -f "$PODMAN_SCRATCH/containers.conf" ]; then
    # `system reset` unmounts the overlay driver's private mount before deleting the storage.
    "$0" system reset --force >/dev/null 2>&1 || "$0" system reset --force >&2
  fi
  rm -rf "$PODMAN_SCRATCH"
  exit 0
fi

mkdir -p "$PODMAN_SCRATCH"
scratch=$(cd "$PODMAN_SCRATCH" && pwd)
if [ ! -f "$scratch/containers.conf" ]; then
  mkdir -p "$scratch/tmp" "$scratch/networks"
  nofile=$(ulimit -Hn)
  ulimits="\"nofile=$nofile:$nofile\""
  # nproc: 32768, or less under a lower hard limit (this shell's own 96365 here is refused: EPERM).
  nproc=$(ulimit -Hu)
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  ulimits="$ulimits, \"nproc=$nproc:$nproc\""
  cat >"$scratch/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$scratch/storage"
runroot = "$scratch/run"
CONF
  cat >"$scratch/containers.conf.tmp" <<CONF
[containers]
default_ulimits = [$ulimits]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$scratch/events.log"
tmp_dir = "$scratch/tmp"
image_copy_tmp_dir = "$scratch/tmp"

[network]
network_config_dir = "$scratch/networks"
CONF
  mv "$scratch/containers.conf.tmp" "$scratch/containers.conf"
fi

export CONTAINERS_CONF="$scratch/containers.conf" CONTAINERS_STORAGE_CONF="$scratch/storage.conf"
# Builds stage their files in TMPDIR (/var/tmp otherwise).
export TMPDIR="$scratch/tmp"
exec podman "$@"
