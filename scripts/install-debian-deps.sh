#!/usr/bin/env bash
# The Debian packages copilot-fleet's local fleet, demo and tests run for real. One list, used by
# README's set-up commands and by .ci/run. Run as root (or through sudo).
#   redis-server, haproxy             the local fleet's session-lock store and TCP load balancer
#   buildah, podman, runc, debootstrap build and run the image without a Docker engine (tests, bench)
#   uidmap, fuse-overlayfs, slirp4netns, netavark, aardvark-dns   what podman needs to run containers
#   iptables                          netavark's firewall driver (without it every container on a bridge
#                                     network fails to start: "netavark: No such file or directory")
#   gcc, libc6-dev                    test/cleanup compiles the image's C tools on the host
#   jq                                the image's tool guard (the local fleet runs the same script)
set -euo pipefail
# The same command works as root (where sudo may not exist) and as a sudo user.
if [ "$(id -u)" != 0 ]; then exec sudo bash "$0" "$@"; fi
PACKAGES=(redis-server haproxy buildah podman runc debootstrap uidmap fuse-overlayfs slirp4netns netavark aardvark-dns iptables gcc libc6-dev jq ca-certificates curl unzip)
if [ "${1:-}" = "--demo-only" ]; then PACKAGES=(redis-server haproxy jq ca-certificates); fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
