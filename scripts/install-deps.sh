#!/bin/sh
# install-deps.sh — install the Debian packages portreg needs to build, test and run.
# Installs only what is missing (dpkg-query), non-interactively, through sudo when not root.
# Usage: scripts/install-deps.sh [build|test|bench|deb|all]   (default: all)
# test also installs playwright-core (npm, the version pinned in tests/ui/package.json and its
# lock) into tests/ui/node_modules (gitignored): the web UI's browser test drives Debian's
# chromium with it; no browser is downloaded.
set -eu

BUILD_PACKAGES="gcc clang make meson ninja-build pkg-config libcurl4-gnutls-dev libjansson-dev scdoc libxxhash-dev libmnl-dev libbpf-dev libxml2-dev libfyaml-dev libnftables-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libgnutls28-dev zlib1g-dev libsystemd-dev systemd"
RUNTIME_PACKAGES="libwireshark-data nmap-common libcurl3-gnutls libmnl0 libbpf1 libxml2 libfyaml0 libnftables1 libmicrohttpd12 libsqlite3-0 libpq5 libgnutls30 zlib1g libsystemd0"
TEST_PACKAGES="clang libclang-rt-14-dev libcmocka-dev bats iproute2 procps jq lsof nftables libxml2-utils ndiff curl iptables firewalld python3 openssl sqlite3 postgresql zsh fish chromium nodejs"
# the Debian package (make deb, tests/e2e/package.bats): its tools and lintian
DEB_PACKAGES="debhelper dpkg-dev fakeroot lintian"
BENCH_PACKAGES="hyperfine time lsof nmap wrk nginx postgresql postgresql-contrib"

case "${1:-all}" in
  build) wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES" ;;
  test)  wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $TEST_PACKAGES $DEB_PACKAGES" ;;
  deb)   wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $DEB_PACKAGES" ;;
  bench) wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $BENCH_PACKAGES" ;;
  all)   wanted="$BUILD_PACKAGES $RUNTIME_PACKAGES $TEST_PACKAGES $DEB_PACKAGES $BENCH_PACKAGES" ;;
  *) echo "usage: $0 [build|test|bench|deb|all]" >&2; exit 2 ;;
esac

# playwright-core for tests/ui (after the Debian packages: npm comes from them)
install_playwright() {
  ui_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/ui"
  want=$(sed -n 's/.*"playwright-core": *"\([0-9.]*\)".*/\1/p' "$ui_dir/package.json")
  have=$(sed -n 's/^ *"version": *"\([0-9.]*\)".*/\1/p' "$ui_dir/node_modules/playwright-core/package.json" 2>/dev/null | head -1)
  [ "$have" = "$want" ] && return 0
  echo "install-deps: installing playwright-core $want into tests/ui/node_modules" >&2
  # --ignore-scripts: nothing runs at install (playwright-core has no browser download of its
  # own; the test uses /usr/bin/chromium); ci: exactly the lock's versions
  (cd "$ui_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

missing=""
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $pkg"
done
case "${1:-all}" in test|all) need_playwright=1 ;; *) need_playwright=0 ;; esac
# Debian's npm, unless the nodejs installed brings its own (NodeSource's does; the two conflict)
if [ "$need_playwright" = 1 ] && ! command -v npm >/dev/null 2>&1; then missing="$missing npm"; fi
if [ -z "$missing" ]; then
  [ "$need_playwright" = 1 ] && install_playwright
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ "$need_playwright" = 1 ] && install_playwright
exit 0
