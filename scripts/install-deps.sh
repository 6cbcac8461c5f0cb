#!/bin/sh
# install-deps.sh — install the Debian packages portreg needs to build, test and run.
# Installs only what is missing (dpkg-query), non-interactively, through sudo when not root.
# Usage: scripts/install-deps.sh [build|test|bench|deb|all]   (default: all)
set -eu

BUILD_PACKAGES="gcc clang make meson ninja-build pkg-config libcurl4-gnutls-dev libjansson-dev scdoc libxxhash-dev libmnl-dev libbpf-dev libxml2-dev libfyaml-dev libnftables-dev libmicrohttpd-dev libsqlite3-dev libgnutls28-dev zlib1g-dev libsystemd-dev systemd"
RUNTIME_PACKAGES="libwireshark-data nmap-common libcurl3-gnutls libmnl0 libbpf1 libxml2 libfyaml0 libnftables1 libmicrohttpd12 libsqlite3-0 libgnutls30 zlib1g libsystemd0"
TEST_PACKAGES="clang libclang-rt-14-dev libcmocka-dev bats iproute2 procps jq lsof nftables libxml2-utils ndiff curl iptables firewalld python3 openssl sqlite3 zsh fish"
# the Debian package (make deb, tests/e2e/package.bats): its tools and lintian
DEB_PACKAGES="debhelper dpkg-dev fakeroot lintian"
BENCH_PACKAGES="hyperfine time lsof nmap wrk nginx"

case "${1:-all}" in
  build) wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES" ;;
  test)  wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $TEST_PACKAGES $DEB_PACKAGES" ;;
  deb)   wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $DEB_PACKAGES" ;;
  bench) wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $BENCH_PACKAGES" ;;
  all)   wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $TEST_PACKAGES $DEB_PACKAGES $BENCH_PACKAGES" ;;
  *) echo "usage: $0 [build|test|bench|deb|all]" >&2; exit 2 ;;
esac

missing=""
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
