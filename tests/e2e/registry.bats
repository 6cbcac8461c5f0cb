#!/usr/bin/env bats
# registry.bats — `portreg registry info|update|rebuild`: sources and counts, validated atomic
# updates that change nothing on bad input, and an index that heals when damaged or stale.
load helpers

setup() { portreg_setup; }

@test "info lists every source with its role and counts" {
  use_iana_fixture
  run -0 "$PORTREG" registry info
  [[ "${lines[0]}" == "$PORTREG_STATE_DIR/iana.csv"$'\t'"iana-csv"$'\t'"primary"$'\t'"22"$'\t'* ]]
  [[ "${lines[1]}" == "$FIXTURES/wireshark-mini"$'\t'"services"$'\t'"superseded"* ]]
  [[ "${lines[2]}" == "$FIXTURES/services-mini"$'\t'"services"$'\t'"merged"$'\t'"6"* ]]
  [[ "${lines[3]}" == "$FIXTURES/nmap-mini"$'\t'"nmap-services"$'\t'"frequency"$'\t'"5"* ]]
  [[ "$output" == *"index: $PORTREG_STATE_DIR/index.bin"* ]]
}

@test "info --json documents sources, per-protocol counts, dates and the index" {
  use_iana_fixture
  run -0 "$PORTREG" registry info --json
  echo "$output" | jq -e '.sources | length == 4'
  echo "$output" | jq -e '.sources[0] | .records == 22 and .records_by_protocol.tcp == 11 and .records_by_protocol.udp == 7 and .records_by_protocol.sctp == 2 and .records_by_protocol.any == 2'
  echo "$output" | jq -e '.sources[0].newest_date == "2025-02-17"'
  echo "$output" | jq -e '.index.saved == true and .index.path == env.PORTREG_STATE_DIR + "/index.bin" and .index.age_seconds >= 0'
  echo "$output" | jq -e '.state_dir == env.PORTREG_STATE_DIR'
}

@test "update from a file: records counted, CSV and index installed" {
  run -0 "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv"
  [[ "$output" == "registry updated: 22 records from $FIXTURES/iana-mini.csv"* ]]
  cmp "$FIXTURES/iana-mini.csv" "$PORTREG_STATE_DIR/iana.csv"
  [ -s "$PORTREG_STATE_DIR/index.bin" ]
  run ! bash -c 'ls "$PORTREG_STATE_DIR" | grep tmp'
}

@test "update from a file:// URL goes through libcurl" {
  run -0 "$PORTREG" registry update --json --from "file://$FIXTURES/iana-mini.csv"
  # the registry in use before was the Wireshark fixture
  echo "$output" | jq -e '.records == 22 and .previous_records == 11 and .previous_source == env.PORTREG_WIRESHARK_SERVICES'
}

# Every kind of bad input: clear error naming the place, exit 2, and nothing changed.
assert_update_rejected() {   # FILE EXPECTED-MESSAGE
  use_iana_fixture
  before=$(sha256sum "$PORTREG_STATE_DIR/iana.csv" "$PORTREG_STATE_DIR/index.bin")
  run --separate-stderr -2 "$PORTREG" registry update --from "$1"
  [[ "$stderr" == *"$2"* ]]
  [[ "$stderr" == *"nothing was changed"* ]]
  [ "$before" = "$(sha256sum "$PORTREG_STATE_DIR/iana.csv" "$PORTREG_STATE_DIR/index.bin")" ]
  run ! bash -c 'ls "$PORTREG_STATE_DIR" | grep tmp'
  run -0 "$PORTREG" lookup 1433
}

@test "update: a broken quote is rejected at file:line:column" {
  assert_update_rejected "$FIXTURES/iana-broken-quote.csv" "iana-broken-quote.csv:24:15: unterminated quoted field"
}

@test "update: a truncated file is rejected at the cut" {
  assert_update_rejected "$FIXTURES/iana-truncated.csv" "iana-truncated.csv:4:30: row has 4 fields, expected 12"
}

@test "update: a binary file is rejected" {
  head -c 4096 "$PORTREG" >"$BATS_TEST_TMPDIR/binary.csv"
  assert_update_rejected "$BATS_TEST_TMPDIR/binary.csv" "binary.csv:1:"
}

@test "update: a registry less than half the size needs --force" {
  use_real_iana
  before=$(sha256sum "$PORTREG_STATE_DIR/iana.csv")
  run --separate-stderr -2 "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv"
  [[ "$stderr" == *"has 22 records, the registry in use 14447 ($PORTREG_STATE_DIR/iana.csv): refusing"* ]]
  [ "$before" = "$(sha256sum "$PORTREG_STATE_DIR/iana.csv")" ]
  run -0 "$PORTREG" registry update --force --from "$FIXTURES/iana-mini.csv"
  [[ "$output" == *"22 records"*"(was 14447 from $PORTREG_STATE_DIR/iana.csv)"* ]]
}

@test "update: a fresh host's registry counts too: a tiny CSV does not replace Wireshark's" {
  # no IANA copy yet: the registry in use is a services file of 200 records
  for i in $(seq 1000 1199); do printf 'svc%d\t%d/tcp\n' "$i" "$i"; done >"$BATS_TEST_TMPDIR/services"
  export PORTREG_WIRESHARK_SERVICES="$BATS_TEST_TMPDIR/services"
  run -0 "$PORTREG" lookup 1000
  run --separate-stderr -2 "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv"
  [[ "$stderr" == *"has 22 records, the registry in use 200 ($BATS_TEST_TMPDIR/services): refusing"* ]]
  [[ "$stderr" == *"nothing was changed"* ]]
  [ ! -e "$PORTREG_STATE_DIR/iana.csv" ]
  run -0 "$PORTREG" lookup 1000
  [[ "$output" == *"svc1000"* ]]
  run -0 "$PORTREG" registry update --force --from "$FIXTURES/iana-mini.csv"
  [[ "$output" == *"(was 200 from $BATS_TEST_TMPDIR/services)"* ]]
}

@test "update: an endless file stops at 64 MiB, exit 2, nothing changed" {
  use_iana_fixture
  before=$(sha256sum "$PORTREG_STATE_DIR/iana.csv" "$PORTREG_STATE_DIR/index.bin")
  run --separate-stderr -2 "$PORTREG" registry update --from /dev/zero
  [[ "$stderr" == *"/dev/zero: larger than 64 MiB: not an IANA registry"* ]]
  [[ "$stderr" == *"nothing was changed"* ]]
  [ "$before" = "$(sha256sum "$PORTREG_STATE_DIR/iana.csv" "$PORTREG_STATE_DIR/index.bin")" ]
}

@test "update on a full disk installs neither the CSV nor the index" {
  need_root
  [ -f "${PORTREG_IANA_CSV:-}" ] || skip "IANA CSV not found at ${PORTREG_IANA_CSV:-<unset>}"
  unshare -m true 2>/dev/null || skip "cannot make a mount namespace (unshare -m)"
  mkdir -p "$PORTREG_STATE_DIR"
  # 2 MiB: the old small registry and the new 1.1 MB CSV fit, the new 1.8 MB index does not
  run unshare -m sh -c '
    mount -t tmpfs -o size=2m tmpfs "$PORTREG_STATE_DIR" || exit 99
    "$PORTREG" registry update --from "$1" >/dev/null || exit 98
    before=$(sha256sum "$PORTREG_STATE_DIR/iana.csv" "$PORTREG_STATE_DIR/index.bin")
    "$PORTREG" registry update --from "$PORTREG_IANA_CSV" 2>"$2"
    echo "exit $?"
    [ "$before" = "$(sha256sum "$PORTREG_STATE_DIR/iana.csv" "$PORTREG_STATE_DIR/index.bin")" ] && echo unchanged
    ls -A "$PORTREG_STATE_DIR" | tr "\n" " "; echo
    "$PORTREG" registry info --json | jq ".sources[0].records"' sh "$FIXTURES/iana-mini.csv" "$BATS_TEST_TMPDIR/stderr"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "exit 3" ]
  [ "${lines[1]}" = "unchanged" ]
  [ "${lines[2]}" = "iana.csv index.bin " ]   # no temporary left
  [ "${lines[3]}" = "22" ]                   # lookups answer from the old registry
  grep -q "No space left on device" "$BATS_TEST_TMPDIR/stderr"
  grep -q "nothing was changed" "$BATS_TEST_TMPDIR/stderr"
}

@test "update refuses to replace an iana.csv portreg did not write" {
  mkdir -p "$PORTREG_STATE_DIR"
  printf 'my own notes\n' >"$PORTREG_STATE_DIR/iana.csv"
  run --separate-stderr -3 "$PORTREG" registry update --force --from "$FIXTURES/iana-mini.csv"
  [[ "$stderr" == *"$PORTREG_STATE_DIR/iana.csv: not written by portreg (no IANA CSV header line): left as it is"* ]]
  [ "$(cat "$PORTREG_STATE_DIR/iana.csv")" = "my own notes" ]
}

@test "a foreign index.bin is left intact; lookups answer from memory with a warning" {
  mkdir -p "$PORTREG_STATE_DIR"
  printf 'precious data\n' >"$PORTREG_STATE_DIR/index.bin"
  run --separate-stderr -0 "$PORTREG" lookup 22
  [[ "$output" == *"22/tcp  ssh"* ]]
  [[ "$stderr" == *"index.bin: not written by portreg (no portreg index header): left as it is"* ]]
  [ "$(cat "$PORTREG_STATE_DIR/index.bin")" = "precious data" ]
  # a symlink in its place is not followed, not replaced
  rm "$PORTREG_STATE_DIR/index.bin"
  printf 'other\n' >"$BATS_TEST_TMPDIR/target"
  ln -s "$BATS_TEST_TMPDIR/target" "$PORTREG_STATE_DIR/index.bin"
  run --separate-stderr -0 "$PORTREG" lookup 22
  [[ "$stderr" == *"not written by portreg (a symbolic link)"* ]]
  [ -L "$PORTREG_STATE_DIR/index.bin" ]
  [ "$(cat "$BATS_TEST_TMPDIR/target")" = "other" ]
}

@test "a state directory that is another user's symlink is refused, exit 3" {
  need_root
  mkdir "$BATS_TEST_TMPDIR/rootdir"
  ln -s "$BATS_TEST_TMPDIR/rootdir" "$BATS_TEST_TMPDIR/link"
  chown -h nobody "$BATS_TEST_TMPDIR/link"
  export PORTREG_STATE_DIR="$BATS_TEST_TMPDIR/link"
  run --separate-stderr -3 "$PORTREG" lookup 22
  [[ "$stderr" == *"$BATS_TEST_TMPDIR/link: state directory is a symbolic link owned by uid $(id -u nobody) (neither you nor root)"* ]]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR/rootdir")" ]
  run --separate-stderr -3 "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv"
  [ -z "$(ls -A "$BATS_TEST_TMPDIR/rootdir")" ]
  # the caller's own link is fine
  chown -h root "$BATS_TEST_TMPDIR/link"
  run -0 "$PORTREG" lookup 22
  [ -f "$BATS_TEST_TMPDIR/rootdir/index.bin" ]
}

@test "a world-writable state directory without the sticky bit is refused, exit 3" {
  mkdir -p "$PORTREG_STATE_DIR"
  chmod 0777 "$PORTREG_STATE_DIR"
  run --separate-stderr -3 "$PORTREG" lookup 22
  [[ "$stderr" == *"$PORTREG_STATE_DIR: state directory is world-writable without the sticky bit"* ]]
  [ ! -e "$PORTREG_STATE_DIR/index.bin" ]
  chmod 1777 "$PORTREG_STATE_DIR"
  run -0 "$PORTREG" lookup 22
}

@test "update: a missing --from file is bad input, exit 2, and the registry stays" {
  use_iana_fixture
  before=$(sha256sum "$PORTREG_STATE_DIR/iana.csv")
  run --separate-stderr -2 "$PORTREG" registry update --from "$BATS_TEST_TMPDIR/missing.csv"
  [[ "$stderr" == *"missing.csv: cannot read: No such file or directory"* ]]
  [ "$(sha256sum "$PORTREG_STATE_DIR/iana.csv")" = "$before" ]
}

@test "update: no network is a clear failure and the old registry stays in use" {
  use_iana_fixture
  before=$(sha256sum "$PORTREG_STATE_DIR/iana.csv")
  # a loopback port nobody listens on: the connection is refused at once
  run --separate-stderr -3 "$PORTREG" registry update --from "http://127.0.0.1:9/iana.csv"
  [[ "$stderr" == *"http://127.0.0.1:9/iana.csv: download failed:"* ]]
  [[ "$stderr" == *"the registry in use stays as it was"* ]]
  [ "$before" = "$(sha256sum "$PORTREG_STATE_DIR/iana.csv")" ]
  run -0 "$PORTREG" lookup 1433
}

@test "a corrupted index is reported, rebuilt, and the answer is still right" {
  use_iana_fixture
  size=$(stat -c %s "$PORTREG_STATE_DIR/index.bin")
  # zero everything between the header and the block checksum table
  dd if=/dev/zero of="$PORTREG_STATE_DIR/index.bin" bs=1 seek=512 count=$((size - 4096 - 512)) conv=notrunc status=none
  run --separate-stderr -0 "$PORTREG" lookup 1433
  [[ "$stderr" == *"index.bin: registry index is corrupted (checksum mismatch in block"*"); rebuilt it from the sources"* ]]
  [[ "$output" == *"1433/tcp  ms-sql-s"* ]]
  run --separate-stderr -0 "$PORTREG" lookup 1433
  [ -z "$stderr" ]
}

@test "a damaged header is reported and rebuilt" {
  use_iana_fixture
  # a byte of the header checksum, changed (a fixed 'X' would match one time in 256)
  b=$(od -An -tu1 -j40 -N1 "$PORTREG_STATE_DIR/index.bin")
  printf "\\$(printf %o $(( (b + 1) % 256 )))" | dd of="$PORTREG_STATE_DIR/index.bin" bs=1 seek=40 conv=notrunc status=none
  run --separate-stderr -0 "$PORTREG" lookup 22
  [[ "$stderr" == *"registry index is corrupted (header checksum mismatch); rebuilt it"* ]]
  [[ "$output" == *"22/tcp  ssh"* ]]
}

@test "registry info reads every block, so it finds damage no lookup touched" {
  use_iana_fixture
  size=$(stat -c %s "$PORTREG_STATE_DIR/index.bin")
  # the last byte of the string table area, just before the block checksum table
  printf 'Z' | dd of="$PORTREG_STATE_DIR/index.bin" bs=1 seek=$((size - 4096)) conv=notrunc status=none
  run --separate-stderr -0 "$PORTREG" registry info
  [[ "$stderr" == *"checksum mismatch in block"*"rebuilt it from the sources"* ]]
  run --separate-stderr -0 "$PORTREG" registry info
  [ -z "$stderr" ]
}

@test "an index of another format version is reported and rebuilt" {
  use_iana_fixture
  printf '\x63' | dd of="$PORTREG_STATE_DIR/index.bin" bs=1 seek=8 conv=notrunc status=none
  run --separate-stderr -0 "$PORTREG" lookup 22
  [[ "$stderr" == *"registry index has format version 99, this portreg reads version "* ]]
}

@test "a truncated index is reported and rebuilt" {
  use_iana_fixture
  truncate -s 1000 "$PORTREG_STATE_DIR/index.bin"
  run --separate-stderr -0 "$PORTREG" lookup 22
  [[ "$stderr" == *"registry index is truncated"* ]]
}

@test "the index is rebuilt when a source is newer" {
  cp "$FIXTURES/services-mini" "$BATS_TEST_TMPDIR/services"
  export PORTREG_ETC_SERVICES="$BATS_TEST_TMPDIR/services"
  use_iana_fixture
  run -1 "$PORTREG" lookup newsvc
  printf 'newsvc\t7878/tcp\t# added later\n' >>"$BATS_TEST_TMPDIR/services"
  run -0 "$PORTREG" lookup newsvc
  [[ "$output" == *"7878/tcp  newsvc  added later"* ]]
  run -0 "$PORTREG" registry info --json
  echo "$output" | jq -e '.index.rebuilt_now == false'
}

@test "a source that appears later is picked up" {
  export PORTREG_NMAP_SERVICES="$BATS_TEST_TMPDIR/nmap"
  use_iana_fixture
  run -0 "$PORTREG" lookup --json 22/tcp
  echo "$output" | jq -e '.queries[0].records[0].open_frequency == null'
  cp "$FIXTURES/nmap-mini" "$BATS_TEST_TMPDIR/nmap"
  run -0 "$PORTREG" lookup --json 22/tcp
  echo "$output" | jq -e '.queries[0].records[0].open_frequency_rank == 2'
}

@test "a source that does not parse is ignored with a note" {
  printf 'broken 99999/tcp\n' >"$BATS_TEST_TMPDIR/services"
  export PORTREG_ETC_SERVICES="$BATS_TEST_TMPDIR/services"
  use_iana_fixture
  run -0 "$PORTREG" registry info --json
  echo "$output" | jq -e '.sources[2].role == "failed" and (.sources[2].note | test("services:1:[0-9]+: .*out of range"))'
}

@test "an unwritable state directory still answers, with a warning" {
  export PORTREG_STATE_DIR=/dev/null/portreg
  run --separate-stderr -0 "$PORTREG" lookup 6000
  [[ "$stderr" == *"cannot save the registry index"* ]]
  [[ "$output" == *"x11"* ]]
}

@test "rebuild compiles the index now" {
  use_iana_fixture
  run -0 "$PORTREG" registry rebuild --json
  echo "$output" | jq -e '.index.rebuilt_now == true and .index.rebuild_reason == "asked to"'
}

@test "registry usage errors exit 2" {
  run --separate-stderr -2 "$PORTREG" registry
  [[ "$stderr" == *"give a subcommand"* ]]
  run --separate-stderr -2 "$PORTREG" registry frob
  [[ "$stderr" == *"unknown subcommand 'frob'"* ]]
  run --separate-stderr -2 "$PORTREG" registry info --from x
  [[ "$stderr" == *"--from and --force belong to 'registry update'"* ]]
}
