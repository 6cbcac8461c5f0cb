#!/usr/bin/env bats
# package.bats — the Debian package as a user gets it: the .deb that `make deb` made (built
# here by scripts/build-deb.sh when it is missing or older than the tree), unpacked with
# dpkg -x; its binary run from there; man pages, completions and systemd units where Debian
# looks for them; the units accepted by systemd-analyze verify; Depends from shlibs and the
# dlopen'ed libraries as Recommends/Suggests; lintian without an error.
load helpers

SOURCE_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"

setup_file() {
  for tool in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$tool" >/dev/null || skip "$tool missing (scripts/install-deps.sh test installs it)"
  done
  local version arch deb
  version=$(dpkg-parsechangelog -l "$SOURCE_ROOT/debian/changelog" -S Version)
  arch=$(dpkg-architecture -qDEB_HOST_ARCH)
  deb="$SOURCE_ROOT/build/portreg_${version}_${arch}.deb"
  mkdir -p "$SOURCE_ROOT/build"
  # one build at a time (the plain and the ASan suite may both get here), and only when a
  # file the package is made of changed since the last one
  (
    flock 9
    if [ ! -f "$deb" ] || [ -n "$(cd "$SOURCE_ROOT" && find debian systemd src docs completions meson.build \
        meson_options.txt -newer "$deb" -print -quit)" ]; then
      "$SOURCE_ROOT/scripts/build-deb.sh" "$SOURCE_ROOT/build" >/dev/null
    fi
  ) 9>"$SOURCE_ROOT/build/deb.lock"
  ROOT="$BATS_FILE_TMPDIR/root"
  dpkg -x "$deb" "$ROOT"
  export DEB="$deb" ROOT VERSION="$version"
  export MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  export UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /usr/lib/systemd/system)
}

setup() {
  [ -n "${ROOT:-}" ] || skip "no package"
  portreg_setup
  SERVER_PID=""
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
}

@test "the package's binary runs from the unpacked tree and is the package's version" {
  run -0 "$ROOT/usr/bin/portreg" --version
  [ "$output" = "portreg $VERSION" ]
  use_iana_fixture
  run -0 "$ROOT/usr/bin/portreg" lookup 22 --json
  [ "$(jq -r '.queries[0].records[0].service' <<<"$output")" = ssh ]
  # its serve module is looked for in the package's folder
  grep -qa "/usr/lib/$MULTIARCH/portreg" "$ROOT/usr/bin/portreg"
  [ -f "$ROOT/usr/lib/$MULTIARCH/portreg/portreg-serve.so" ]
}

@test "the package's portreg serve answers /healthz" {
  local port try
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 10000))
    PORTREG_SERVE_MODULE="$ROOT/usr/lib/$MULTIARCH/portreg/portreg-serve.so" \
      "$ROOT/usr/bin/portreg" serve --listen "127.0.0.1:$port" --db "sqlite:$BATS_TEST_TMPDIR/db" \
      2>>"$BATS_TEST_TMPDIR/server.log" 3>&- &
    SERVER_PID=$!
    for i in $(seq 100); do
      curl -sf "http://127.0.0.1:$port/healthz" >"$BATS_TEST_TMPDIR/health" 2>/dev/null && break 2
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  done
  [ -n "$SERVER_PID" ] || { cat "$BATS_TEST_TMPDIR/server.log"; false; }
  [ "$(cat "$BATS_TEST_TMPDIR/health")" = '{"status":"ok"}' ]
}

@test "a man page for every command in usr/share/man/man1, gzipped roff" {
  local scd name
  for scd in "$SOURCE_ROOT"/docs/man/*.1.scd; do
    name=$(basename "$scd" .scd)
    [ -f "$ROOT/usr/share/man/man1/$name.gz" ] || { echo "missing $name.gz"; false; }
    zcat "$ROOT/usr/share/man/man1/$name.gz" | grep -q '^\.TH'
  done
  zcat "$ROOT/usr/share/man/man1/portreg-serve.1.gz" | grep -qx '.SH SYSTEMD'
}

@test "completions where bash-completion, zsh and fish look; each parses; bash completes sc and --top" {
  local bash_file="$ROOT/usr/share/bash-completion/completions/portreg"
  run -0 bash -n "$bash_file"
  command -v zsh >/dev/null && run -0 zsh -n "$ROOT/usr/share/zsh/vendor-completions/_portreg"
  [ -f "$ROOT/usr/share/zsh/vendor-completions/_portreg" ]
  command -v fish >/dev/null && run -0 fish -n "$ROOT/usr/share/fish/vendor_completions.d/portreg.fish"
  [ -f "$ROOT/usr/share/fish/vendor_completions.d/portreg.fish" ]
  complete_with() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _portreg
             printf "%s\n" "${COMPREPLY[@]}"' _ "$bash_file" "$ROOT/usr/bin/portreg" "$@"
  }
  run -0 complete_with sc
  [ "$output" = scan ]
  run -0 complete_with scan --top
  [ "$output" = --top-ports ]
}

@test "the systemd units where systemd looks, running /usr/bin/portreg; systemd-analyze verify accepts them" {
  local dir="$ROOT$UNITDIR"
  [ -f "$dir/portreg-serve.service" ]
  [ -f "$dir/portreg-serve.socket" ]
  grep -qx 'ExecStart=/usr/bin/portreg --state-dir=${STATE_DIRECTORY} serve' "$dir/portreg-serve.service"
  command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (Debian package systemd)"
  mkdir -p "$BATS_TEST_TMPDIR/units"
  sed "s|^ExecStart=/usr/bin/portreg |ExecStart=$ROOT/usr/bin/portreg |" "$dir/portreg-serve.service" \
    >"$BATS_TEST_TMPDIR/units/portreg-serve.service"
  cp "$dir/portreg-serve.socket" "$BATS_TEST_TMPDIR/units/"
  run systemd-analyze verify --man=no "$BATS_TEST_TMPDIR/units/portreg-serve.socket" \
    "$BATS_TEST_TMPDIR/units/portreg-serve.service"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "maintainer scripts register the units without enabling or starting them" {
  dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/control"
  grep -q "deb-systemd-helper update-state 'portreg-serve.socket'" "$BATS_TEST_TMPDIR/control/postinst"
  grep -q "deb-systemd-helper purge 'portreg-serve.service'" "$BATS_TEST_TMPDIR/control/postrm"
  run ! grep -q "deb-systemd-invoke start" "$BATS_TEST_TMPDIR/control/postinst"
}

@test "Depends come from shlibs; the dlopen'ed libraries and data packages are Recommends or Suggests" {
  run -0 dpkg-deb -f "$DEB" Depends
  [[ "$output" == *"libmicrohttpd12"* ]]    # linked by the serve module
  [[ "$output" == *"libjansson4"* ]]
  for lib in libfyaml0 libnftables1 libxml2 libcurl3-gnutls libsystemd0 libbpf1; do
    [[ "$output" != *"$lib"* ]] || { echo "$lib is a Depends: it is loaded with dlopen"; false; }
  done
  run -0 dpkg-deb -f "$DEB" Recommends Suggests
  for pkg in libfyaml0 libnftables1 libxml2 libcurl3-gnutls libsystemd0 libbpf1 libwireshark-data nmap-common; do
    [[ "$output" == *"$pkg"* ]] || { echo "$pkg missing from Recommends/Suggests"; false; }
  done
  # no build or test artefacts
  run ! bash -c "dpkg-deb -c '$DEB' | grep -E 'usr/local|sockhold|bench_import|test_'"
}

@test "lintian finds no error in the package" {
  run lintian --fail-on error --tag-display-limit 0 "$DEB"
  echo "$output"
  [ "$status" -eq 0 ]
  run ! grep -q '^E: ' <<<"$output"
}
