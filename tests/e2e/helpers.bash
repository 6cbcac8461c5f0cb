# helpers.bash — shared set-up for the end-to-end tests: the built binary ($PORTREG, set by
bats_require_minimum_version 1.5.0
# meson), a fresh state directory per test, and registry sources pointed at the fixtures so no
# test depends on (or touches) the host's registry.
FIXTURES="${PORTREG_FIXTURES:?set by meson}/e2e"

portreg_setup() {
  export PORTREG_STATE_DIR="$BATS_TEST_TMPDIR/state"
  export PORTREG_WIRESHARK_SERVICES="$FIXTURES/wireshark-mini"
  export PORTREG_ETC_SERVICES="$FIXTURES/services-mini"
  export PORTREG_NMAP_SERVICES="$FIXTURES/nmap-mini"
  export NO_COLOR=1
}

# Install the small IANA fixture as the registry.
use_iana_fixture() {
  "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv" >/dev/null
}

# The real IANA CSV from ../shared, or skip.
use_real_iana() {
  if [ ! -f "${PORTREG_IANA_CSV:-}" ]; then
    skip "IANA CSV not found at ${PORTREG_IANA_CSV:-<unset>} (../shared/data/iana)"
  fi
  "$PORTREG" registry update --from "$PORTREG_IANA_CSV" >/dev/null
}
