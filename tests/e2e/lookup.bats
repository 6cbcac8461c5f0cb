#!/usr/bin/env bats
# lookup.bats — `portreg lookup` on the fixture registry and, when ../shared has it, on the full
# IANA registry: what it prints, its JSON, and its exit codes.
load helpers

setup() { portreg_setup; use_iana_fixture; }

@test "a port prints every protocol's record with range class, assignee and source" {
  run -0 "$PORTREG" lookup 1433
  [[ "${lines[0]}" == "1433/tcp  ms-sql-s  Microsoft-SQL-Server" ]]
  [[ "$output" == *"1433/udp  ms-sql-s  Microsoft-SQL-Server"* ]]
  [[ "$output" == *"range        user (registered) port 1024–49151"* ]]
  [[ "$output" == *"assignee     [Bill_Bennett]"* ]]
  [[ "$output" == *"source       $PORTREG_STATE_DIR/iana.csv:12"* ]]
}

@test "the host line reports this machine's ephemeral range" {
  read -r first last </proc/sys/net/ipv4/ip_local_port_range
  run -0 "$PORTREG" lookup 22
  [[ "$output" == *"this host: 22 is outside the ephemeral range $first–$last"* ]]
  run -1 "$PORTREG" lookup "$first"
  [[ "$output" == *"this host: $first is inside the ephemeral range $first–$last"* ]]
}

@test "a port IANA lists twice shows both services and the conflict note" {
  run -0 "$PORTREG" lookup 2049
  [[ "$output" == *"2049/tcp  shilp"* ]]
  [[ "$output" == *"notes        <== NOTE Conflict on 2049 !"* ]]
  [[ "$output" == *"2049/tcp  nfs  Network File System - Sun Microsystems"* ]]
  [[ "$output" == *"2049/sctp  nfs  Network File System"* ]]
}

@test "a service name finds its ports" {
  run -0 "$PORTREG" lookup mysql
  [[ "${lines[0]}" == "3306/tcp  mysql  MySQL" ]]
  [[ "$output" == *"3306/udp  mysql  MySQL"* ]]
  run -0 "$PORTREG" lookup MySQL/udp
  [[ "$output" != *"3306/tcp"* ]]
  [[ "$output" == *"3306/udp"* ]]
}

@test "an alias from the host's services file finds the IANA record" {
  run -0 "$PORTREG" lookup lapp
  [[ "$output" == *"7777/tcp  localapp  a host-local service"* ]]
  [[ "$output" == *"source       $FIXTURES/services-mini:"* ]]
}

@test "PORT/PROTO limits the protocol" {
  run -0 "$PORTREG" lookup 53/udp
  [[ "$output" == *"53/udp  domain"* ]]
  [[ "$output" != *"53/tcp"* ]]
  run -0 "$PORTREG" lookup --proto tcp 53
  [[ "$output" == *"53/tcp  domain"* ]]
  [[ "$output" != *"53/udp"* ]]
}

@test "a range lists records one per line, tab-separated when piped" {
  run -0 "$PORTREG" lookup 6000-6010
  [ "${lines[0]}" = $'6000-6063/tcp\tx11\tassigned\tX Window System' ]
  [ "${lines[1]}" = $'6000-6063/udp\tx11\tassigned\tX Window System' ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "--search matches every word in names and descriptions" {
  run -0 "$PORTREG" lookup --search "sql server"
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == 1433/tcp* ]]
  run -0 "$PORTREG" lookup --search secure shell
  [[ "${lines[0]}" == 22/tcp* ]]
  run -1 "$PORTREG" lookup --search "no such words anywhere"
}

@test "Reserved and Unassigned ports say so, with their IANA block, and exit 1" {
  run -1 "$PORTREG" lookup 275
  [[ "${lines[0]}" == "272-279/any  unassigned  Unassigned" ]]
  [[ "$output" == *"status       unassigned — IANA block 272–279"* ]]
  run -1 "$PORTREG" lookup 0
  [[ "$output" == *"status       reserved — IANA block 0"* ]]
  [[ "$output" == *"range        system port 0–1023"* ]]
  run -1 "$PORTREG" lookup 49151
  [[ "${lines[0]}" == "49151/any  reserved  IANA Reserved" ]]
}

@test "a port in no record is unassigned, exit 1" {
  run -1 "$PORTREG" lookup 50000
  [[ "${lines[0]}" == "50000  not in the registry: unassigned" ]]
  [[ "$output" == *"dynamic/private 49152–65535"* ]]
}

@test "several queries: exit 0 only when each found an assignment" {
  run -0 "$PORTREG" lookup 22 mysql 53/udp
  run -1 "$PORTREG" lookup 22 275
  [[ "$output" == *"22/tcp  ssh"* ]]
  [[ "$output" == *"272-279/any"* ]]
}

@test "a name-only registration shows no port" {
  run -0 "$PORTREG" lookup nameonly
  [[ "${lines[0]}" == "-/tcp  nameonly  A service name without a port" ]]
}

@test "a quoted multi-line description survives" {
  run -0 "$PORTREG" lookup 7001
  [[ "$output" == *'Example with "quotes", a comma'* ]]
  [[ "$output" == *"reference    [RFC0001][RFC0002]"* ]]
}

@test "--json is one document with the documented fields" {
  run -0 "$PORTREG" lookup --json 1433 mysql
  echo "$output" | jq -e '.queries | length == 2'
  echo "$output" | jq -e '.queries[0] | .query == "1433" and .kind == "port" and .found == true and .port == 1433'
  echo "$output" | jq -e '.queries[0].range_class == {"class":"user","first":1024,"last":49151}'
  echo "$output" | jq -e '.queries[0].host.ephemeral == false and (.queries[0].host.ephemeral_range | length == 2)'
  echo "$output" | jq -e '.queries[0].records[0] | .service == "ms-sql-s" and .port == 1433 and .port_last == 1433 and .protocol == "tcp" and .status == "assigned" and .assignee == "[Bill_Bennett]" and .source.kind == "iana-csv" and .source.line == 12'
  echo "$output" | jq -e '.queries[1] | .kind == "name" and ([.records[].port] == [3306, 3306])'
  run -1 "$PORTREG" lookup --json 275
  echo "$output" | jq -e '.queries[0] | .found == false and .records[0].status == "unassigned" and .records[0].port == 272 and .records[0].port_last == 279 and .records[0].protocol == "any"'
}

@test "open-frequency from nmap-services is shown" {
  run -0 "$PORTREG" lookup 22/tcp
  [[ "$output" == *"open freq    0.182286 (rank 2 among tcp ports, nmap-services)"* ]]
  run -0 "$PORTREG" lookup --json 22/tcp
  echo "$output" | jq -e '.queries[0].records[0].open_frequency_rank == 2'
}

@test "bad queries exit 2 with the argument and column" {
  run --separate-stderr -2 "$PORTREG" lookup 70000
  [[ "$stderr" == *'"70000": argument 1, column 1: port "70000" is out of range 0-65535'* ]]
  run --separate-stderr -2 "$PORTREG" lookup 80/xyz
  [[ "$stderr" == *'unknown protocol "xyz"'* ]]
  run --separate-stderr -2 "$PORTREG" lookup ''
  [[ "$stderr" == *"empty query"* ]]
  run --separate-stderr -2 "$PORTREG" lookup 22 '80,,81'
  [[ "$stderr" == *"argument 2"* ]]
  run --separate-stderr -2 "$PORTREG" lookup
  [[ "$stderr" == *"give at least one query"* ]]
  run --separate-stderr -2 "$PORTREG" lookup --proto xyz 22
  [[ "$stderr" == *'unknown protocol "xyz"'* ]]
  [ -z "$output" ]
}

@test "without a fetched IANA CSV the wireshark services file is the registry" {
  rm -f "$PORTREG_STATE_DIR/iana.csv"
  run -0 "$PORTREG" lookup 6001
  [[ "${lines[0]}" == "6000-6063/tcp  x11  X Window System" ]]
  [[ "$output" == *"source       $FIXTURES/wireshark-mini:"* ]]
}

@test "with only /etc/services the lookup still works" {
  rm -f "$PORTREG_STATE_DIR/iana.csv"
  export PORTREG_WIRESHARK_SERVICES=""
  run -0 "$PORTREG" lookup www
  [[ "${lines[0]}" == "80/tcp  http  WorldWideWeb HTTP" ]]
}

@test "no source at all is a runtime failure, exit 3" {
  rm -f "$PORTREG_STATE_DIR/iana.csv"
  export PORTREG_WIRESHARK_SERVICES="" PORTREG_ETC_SERVICES="$BATS_TEST_TMPDIR/none"
  run --separate-stderr -3 "$PORTREG" lookup 22
  [[ "$stderr" == *"no registry source found"* ]]
}

# ---- the full IANA registry from ../shared (skipped with a message when absent) ----

@test "full IANA registry: real lookups" {
  use_real_iana
  run -0 "$PORTREG" lookup --json 1433 3306 3389 5432 2049
  echo "$output" | jq -e '[.queries[0].records[] | .service + "/" + .protocol] == ["ms-sql-s/tcp", "ms-sql-s/udp"]'
  echo "$output" | jq -e '[.queries[1].records[] | .service] | unique == ["mysql"]'
  echo "$output" | jq -e '[.queries[2].records[] | .service] | unique == ["ms-wbt-server"]'
  echo "$output" | jq -e '[.queries[3].records[] | .service] | unique == ["postgresql"]'
  echo "$output" | jq -e '[.queries[4].records[] | .service + "/" + .protocol] == ["shilp/tcp", "nfs/tcp", "shilp/udp", "nfs/udp", "nfs/sctp"]'
  echo "$output" | jq -e '.queries[4].records[0].assignment_notes | contains("Conflict on 2049")'
  run -1 "$PORTREG" lookup --json 0 1023 49151 225 300
  echo "$output" | jq -e '[.queries[0].records[] | .status] == ["reserved", "reserved"]'
  echo "$output" | jq -e '[.queries[1].records[] | .status] | unique == ["reserved"]'
  echo "$output" | jq -e '.queries[2].records == [.queries[2].records[0]] and .queries[2].records[0].protocol == "any" and .queries[2].records[0].description == "IANA Reserved"'
  echo "$output" | jq -e '.queries[3].records[0] | .port == 225 and .port_last == 241 and .status == "reserved"'
  echo "$output" | jq -e '.queries[4].records[0] | .status == "unassigned" and .port <= 300 and .port_last >= 300'
}

@test "full IANA registry: counts in registry info" {
  use_real_iana
  run -0 "$PORTREG" registry info --json
  echo "$output" | jq -e '.sources[0] | .kind == "iana-csv" and .role == "primary" and .records == 14447 and .newest_date == "2024-04-30"'
  echo "$output" | jq -e '.sources[1].role == "superseded"'
}

@test "registry text with terminal escapes or bytes that are not UTF-8 is shown escaped; JSON keeps every key" {
  run -0 "$PORTREG" registry update --force --from "$FIXTURES/iana-escapes.csv"
  "$PORTREG" lookup 31337 >"$BATS_TEST_TMPDIR/card"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/card"
  grep -qxF '31337/tcp  evil  \x1b[2J\x1b]0;pwned\a bad \xff\xfe UTF-8 \xc2\x9b1m' "$BATS_TEST_TMPDIR/card"
  grep -qxF '  assignee     [Mallory\tforged]' "$BATS_TEST_TMPDIR/card"
  grep -qxF '  notes        line one\nline two \xe2\x80\xae reversed' "$BATS_TEST_TMPDIR/card"
  grep -qxF '31337/udp  evil  café \\ backslash' "$BATS_TEST_TMPDIR/card"
  run_on_tty lookup 31337
  assert_no_control_bytes "$BATS_TEST_TMPDIR/tty.out"
  grep -qF '\x1b[2J\x1b]0;pwned' "$BATS_TEST_TMPDIR/tty.out"
  # the short table (piped search): one row per record, four columns
  "$PORTREG" lookup --search evil >"$BATS_TEST_TMPDIR/rows"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/rows"
  [ "$(awk -F'\t' 'NF == 4' "$BATS_TEST_TMPDIR/rows" | wc -l)" -eq 2 ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/rows")" -eq 2 ]
  # JSON: valid UTF-8 text is kept as it is, other text escaped, no key left out
  run -0 "$PORTREG" lookup --json 31337
  echo "$output" | jq -e '.queries[0].records | map({(.protocol): .}) | add
    | .tcp.description == "\\x1b[2J\\x1b]0;pwned\\a bad \\xff\\xfe UTF-8 \\xc2\\x9b1m"
      and .tcp.assignee == "[Mallory\tforged]"
      and .tcp.assignment_notes == "line one\nline two \u202e reversed"
      and .udp.description == "café \\ backslash"
      and (.tcp | has("description"))'
}

@test "an open range -N is a query without --, wherever it stands among the options" {
  run -0 "$PORTREG" lookup -1024 --short
  [[ "$output" == *"22/tcp"*"ssh"* ]]
  [[ "$output" != *"1025/"* ]]
  want="$output"
  run -0 "$PORTREG" lookup --short -- -1024
  [ "$output" = "$want" ]
  # queries keep their order; the value of -p is not a query
  run -0 "$PORTREG" lookup 53 -p tcp -23 --short
  [[ "${lines[0]}" == "53/tcp"* ]]
  [[ "${lines[1]}" == "22/tcp"* ]]
  [[ "$output" != *"/udp"* ]]
  run --separate-stderr -2 "$PORTREG" lookup -70000
  [[ "$stderr" == 'portreg: lookup: "-70000": argument 1, column 2: port "70000" is out of range 0-65535' ]]
  # a cluster with a digit is an unknown option named as such, never "lookup: not a port"
  run --separate-stderr -2 "$PORTREG" lookup -l10
  [[ "$stderr" == "portreg: lookup: unknown option '-1'"* ]]
}

@test "error columns count in the argument as typed, across a newline; a long port is echoed whole" {
  run --separate-stderr -2 "$PORTREG" lookup $'80\n443'
  [[ "$stderr" == *'argument 1, column 4: unexpected character '"'4'"* ]]
  run --separate-stderr -2 "$PORTREG" lookup 12345678901234567890123456789
  [[ "$stderr" == *'port "12345678901234567890123456789" is out of range 0-65535'* ]]
  run --separate-stderr -2 "$PORTREG" ls --port $'22,\n\nfoo bar'
  [[ "$stderr" == *'column 10: '* ]]
}

# x11 is one block 6000-6063 in the IANA-derived file; nmap-services has a frequency per port;
# /etc/services adds x11-1..7, which IANA does not list.
x11_sources() {
  local d="$BATS_TEST_TMPDIR/x11"; mkdir -p "$d"
  printf 'x11\t\t6000-6063/tcp\t# X Window System\n' >"$d/wireshark"
  printf 'x11\t\t6000/tcp\tx11-0\nx11-3\t\t6003/tcp\n' >"$d/etc"
  printf 'X11\t6000/tcp\t0.005683\t# X\nX11:3\t6003/tcp\t0.000351\t# X\nX11:4\t6004/tcp\t0.000000\n' >"$d/nmap"
  export PORTREG_WIRESHARK_SERVICES="$d/wireshark" PORTREG_ETC_SERVICES="$d/etc" PORTREG_NMAP_SERVICES="$d/nmap"
}

@test "a port inside a block shows its own open-frequency, not the block's first port's" {
  x11_sources
  run -0 "$PORTREG" lookup 6003
  echo "$output"
  [[ "$output" == *"open freq    0.000351 (port 6003, rank 2 among tcp ports"* ]]
  [[ "$output" != *"0.005683"* ]]
  run -0 "$PORTREG" lookup 6003 --json
  echo "$output" | jq -e '[.queries[0].records[] | select(.service == "x11")][0]
    | .open_frequency == 0.000351 and .open_frequency_port == 6003'
  # a port of the block with frequency 0 has none to show
  run -0 "$PORTREG" lookup 6004 --json
  echo "$output" | jq -e '.queries[0].records[0].open_frequency == null'
  # the block asked by name: its first port's, saying which port
  run -0 "$PORTREG" lookup x11 --json
  echo "$output" | jq -e '.queries[0].records[0] | .open_frequency == 0.005683 and .open_frequency_port == 6000'
}

@test "a name only /etc/services lists is not shown as an IANA assignment" {
  x11_sources
  run -0 "$PORTREG" lookup 6003
  [[ "$output" == *"6003/tcp  x11-3"*"status       not an IANA assignment: listed only in $BATS_TEST_TMPDIR/x11/etc"* ]]
  run -0 "$PORTREG" lookup 6000-6003 --short
  [[ "$output" == *$'6003/tcp\tx11-3\tlocal'* ]]
  [[ "$output" == *$'6000-6063/tcp\tx11\tassigned'* ]]
  run -0 "$PORTREG" lookup 6003 --json
  echo "$output" | jq -e '.queries[0].records[] | select(.service == "x11-3")
    | .iana == false and .source.role == "merged"'
  echo "$output" | jq -e '.queries[0].records[] | select(.service == "x11")
    | .iana == true and .source.role == "primary"'
}
