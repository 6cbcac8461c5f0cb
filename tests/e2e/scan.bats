#!/usr/bin/env bats
# scan.bats — `portreg scan` end to end, only against loopback and network namespaces the test
# creates: ground truth (the listeners the test opened are exactly the open ports, with every
# engine, IPv4 and IPv6, repeated), a namespace pair joined by veth with nftables rules that
# drop and reject (filtered / closed / open with the reason), a full accept queue, self-connect,
# a low file-descriptor limit, outputs (table, JSON, NDJSON, nmap XML read by xmllint and
# ndiff), shards, target files and errors.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
  # as root every test runs in a namespace of its own: the ground truth is exactly its sockets
  IN=()
  NS_LIST=""
  if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
    ISO="prscan-iso-$$-$BATS_TEST_NUMBER"
    ip netns add "$ISO" && ip -n "$ISO" link set lo up && IN=(ip netns exec "$ISO") && NS_LIST="$ISO"
  fi
}

teardown() {
  stop_sockholds
  for ns in ${NS_LIST:-}; do ip netns delete "$ns" 2>/dev/null || true; done
}

# serve PROGRAM SPEC...: start a helper (sockhold or echoserve), PORTS gets its ports
serve() {
  local program=$1; shift
  local out="$BATS_TEST_TMPDIR/serve.$RANDOM"
  "${IN[@]}" "$program" "$@" >"$out" 2>&1 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  local waited=0
  until grep -q '^ready' "$out" 2>/dev/null; do
    sleep 0.05; waited=$((waited + 1))
    if [ "$waited" -gt 200 ] || ! kill -0 $! 2>/dev/null; then cat "$out" >&2; return 1; fi
  done
  PORTS=($(awk '$1 == "socket" {print $4}' "$out"))
}

# open ports of a --json scan, one "address port" per line, sorted
open_set() { jq -r '.hosts[] | .address as $a | .ports[] | select(.state == "open") | "\($a) \(.port)"' | sort; }

# scan_on_tty ARGS...: `portreg scan ARGS` in this test's namespace with stdout on a terminal
# (script's pty), colour and progress off; $output is what it printed (no carriage returns),
# $status its exit status.
scan_on_tty() {
  command -v script >/dev/null || skip "needs script (bsdutils)"
  local cmd
  printf -v cmd '%q ' "${IN[@]}" "$PORTREG" --color never scan --no-progress "$@"
  output=$(script -qec "$cmd" /dev/null </dev/null | tr -d '\r'; exit "${PIPESTATUS[0]}") && status=0 || status=$?
  mapfile -t lines <<<"$output"
}

need_syn() {
  need_root
  "${IN[@]}" "$PORTREG" scan -sS -p 1 127.0.0.1 --no-progress >/dev/null 2>&1 || [ $? -eq 1 ] || skip "the syn engine cannot run here"
}

@test "connect: exactly the listeners are open on IPv4 and IPv6, three runs" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0 tcp4:127.0.0.1:0 tcp6:[::1]:0
  lo=$(printf '%s\n' "${PORTS[@]}" | sort -n | head -1)
  hi=$(printf '%s\n' "${PORTS[@]}" | sort -n | tail -1)
  first=$((lo > 1000 ? lo - 1000 : 1)); last=$((hi + 1000 > 65535 ? 65535 : hi + 1000))
  expected=$(printf '127.0.0.1 %s\n127.0.0.1 %s\n::1 %s\n' "${PORTS[0]}" "${PORTS[1]}" "${PORTS[2]}" | sort)
  for run in 1 2 3; do
    run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$first-$last" --json 127.0.0.1 ::1
    got=$(echo "$output" | open_set)
    live=$("${IN[@]}" ss -Htln | awk '{print $4}' | sed -E 's/^\[?([^]]*)\]?:([0-9]+)$/\1 \2/' | sort)
    # exactly the listeners: ours, plus (unisolated) any the host has in the range
    while read -r addr port; do
      [ -z "$addr" ] && continue
      grep -qx "$addr $port" <<<"$expected" || grep -qE "^(\*|0\.0\.0\.0|::|$addr) $port$" <<<"$live" \
        || { echo "unexpected open $addr $port"; false; }
    done <<<"$got"
    missing=$(comm -23 <(echo "$expected") <(echo "$got"))
    [ -z "$missing" ] || { echo "missing: $missing"; false; }
    echo "$output" | jq -e --argjson n $(( (last - first + 1) * 2 )) \
      '.summary.open + .summary.closed == $n and .summary.filtered == 0 and .summary.error == 0'
  done
}

@test "syn: every port of 127.0.0.1, the open set is exactly the listeners" {
  need_syn
  serve "$ECHOSERVE" tcp4:127.0.0.1:0 tcp4:127.0.0.1:0 tcp4:0.0.0.0:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sS -p- --json 127.0.0.1
  got=$(echo "$output" | open_set | awk '{print $2}')
  live=$("${IN[@]}" ss -Htln | awk '{print $4}' | grep -E '^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]):' | sed 's/.*://' | sort -u)
  diff <(echo "$got" | sort -n) <(echo "$live" | sort -n)
  for p in "${PORTS[@]}"; do grep -qx "$p" <<<"$got"; done
  echo "$output" | jq -e '.scan.engine == "syn" and .scan.probes == 65535 and .summary.error == 0
    and .summary.filtered == 0 and .summary.open + .summary.closed == 65535'
  echo "$output" | jq -e '.hosts[0].ports[] | select(.state == "open") | .reason == "syn-ack" and .rtt_ms > 0'
}

@test "syn and connect agree on ::1" {
  need_syn
  serve "$ECHOSERVE" tcp6:[::1]:0 tcp6:[::1]:0
  lo=$(printf '%s\n' "${PORTS[@]}" | sort -n | head -1)
  hi=$(printf '%s\n' "${PORTS[@]}" | sort -n | tail -1)
  range="$((lo > 100 ? lo - 100 : 1))-$((hi + 100 > 65535 ? 65535 : hi + 100))"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sS -p "$range" --json ::1
  syn=$(echo "$output" | open_set)
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$range" --json ::1
  connect=$(echo "$output" | open_set)
  [ "$syn" = "$connect" ]
  for q in "${PORTS[@]}"; do grep -qx "::1 $q" <<<"$syn"; done
}

@test "udp: answering services are open, a silent one open|filtered, the rest closed by ICMP" {
  serve "$ECHOSERVE" udp4:127.0.0.1:0 udp6:[::1]:0
  answering=("${PORTS[@]}")
  serve "$SOCKHOLD" udp4:127.0.0.1:0
  silent=${PORTS[0]}
  spec="${answering[0]},${answering[1]},$silent,$((silent + 1))"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sU -p "$spec" --timeout 300ms --json 127.0.0.1
  echo "$output"
  echo "$output" | jq -e --argjson a "${answering[0]}" --argjson s "$silent" '
    [.hosts[0].ports[] | {(.port|tostring): .state}] | add
    | .[($a|tostring)] == "open" and .[($s|tostring)] == "open|filtered"'
  echo "$output" | jq -e '.summary.closed >= 1'
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sU -p "${answering[1]}" --json ::1
  echo "$output" | jq -e '.hosts[0].ports[0] | .state == "open" and .reason == "udp-response"'
}

# A namespace pair: the scanner in A (10.77.0.1), the target in B (10.77.0.2) behind nftables.
make_pair() {
  need_root
  command -v nft >/dev/null || skip "needs nftables"
  A="prscan-a-$$-$BATS_TEST_NUMBER"; B="prscan-b-$$-$BATS_TEST_NUMBER"
  NS_LIST="$NS_LIST $A $B"
  ip netns add "$A"; ip netns add "$B"
  ip link add "va$$" netns "$A" type veth peer name "vb$$" netns "$B"
  ip -n "$A" addr add 10.77.0.1/24 dev "va$$"; ip -n "$B" addr add 10.77.0.2/24 dev "vb$$"
  ip -n "$A" link set "va$$" up; ip -n "$B" link set "vb$$" up
  ip -n "$A" link set lo up; ip -n "$B" link set lo up
}

@test "filtering: drop is filtered, tcp reset is closed, icmp admin-prohibited is filtered with its code" {
  make_pair
  ip netns exec "$B" "$ECHOSERVE" tcp4:0.0.0.0:8001 tcp4:0.0.0.0:8002 tcp4:0.0.0.0:8003 \
    udp4:0.0.0.0:8001 udp4:0.0.0.0:8003 >"$BATS_TEST_TMPDIR/b" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  sleep 0.3
  ip netns exec "$B" nft -f - <<'EOF'
table inet t {
  chain input {
    type filter hook input priority 0;
    tcp dport 8002 drop
    tcp dport 8003 reject with tcp reset
    tcp dport 8004 reject with icmpx type admin-prohibited
    udp dport 8002 drop
    udp dport 8003 reject with icmpx type admin-prohibited
  }
}
EOF
  for engine in syn connect; do
    run -0 --separate-stderr ip netns exec "$A" "$PORTREG" scan -e "$engine" -p 8000-8005 --timeout 300ms --rate 0 --json 10.77.0.2
    echo "$engine: $output"
    states=$(echo "$output" | jq -c '[.hosts[0].ports[] | {key: (.port|tostring), value: [.state, .reason, (.icmp.code // null)]}] | from_entries')
    # closed ports are counted, not listed: 8000, 8003 (tcp reset) and 8005
    echo "$states" | jq -e '.["8001"][0] == "open" and .["8002"] == ["filtered", "no-response", null]
      and (has("8003") | not) and .["8004"][0] == "filtered"'
    # the raw engine sees the ICMP error itself; connect() learns of it only when the kernel
    # aborts the attempt before the engine's own timeout
    if [ "$engine" = syn ]; then
      echo "$states" | jq -e '.["8004"][1] == "icmp" and .["8004"][2] == 13'
    fi
    echo "$output" | jq -e '.hosts[0].counts.closed == 3 and .summary.open == 1'
  done
  # beyond this host the rate is capped unless --rate says otherwise
  run -0 --separate-stderr ip netns exec "$A" "$PORTREG" scan -sT -p 8001 --json 10.77.0.2
  [[ "$stderr" == *"targets beyond this host: at most 2000 probes/s (--rate to change)"* ]]
  run -0 --separate-stderr ip netns exec "$A" "$PORTREG" scan -sU -p 8000-8004 --timeout 300ms --rate 0 --json 10.77.0.2
  echo "udp: $output"
  echo "$output" | jq -e '[.hosts[0].ports[] | {key: (.port|tostring), value: .state}] | from_entries
    | .["8001"] == "open" and .["8002"] == "open|filtered" and .["8003"] == "filtered"'
  echo "$output" | jq -e '.hosts[0].counts.closed == 2'
}

@test "a listener with a full accept queue is open (accept-queue-full), not filtered" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0:backlog0
  port=${PORTS[0]}
  # one waiting connection fills a backlog of 0
  "${IN[@]}" bash -c "exec 7<>/dev/tcp/127.0.0.1/$port; sleep 60" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  sleep 0.3
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$port" --timeout 300ms --retries 0 --json 127.0.0.1
  echo "$output"
  echo "$output" | jq -e '.hosts[0].ports[0] | .state == "open" and .reason == "accept-queue-full"'
  echo "$output" | jq -e '.summary.accept_queue_full == 1'
}

@test "self-connect inside the ephemeral range is never reported open" {
  need_root
  [ "${#IN[@]}" -gt 0 ] || skip "needs a network namespace"
  "${IN[@]}" sh -c 'echo "40000 40009" > /proc/sys/net/ipv4/ip_local_port_range'
  for run in 1 2 3 4 5; do
    run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 40000-40009 --json 127.0.0.1
    echo "$output" | jq -e '.summary.open == 0 and .summary.error == 0 and .summary.closed == 10'
  done
}

@test "under ulimit -n 256 a full connect scan still finishes with exact results" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0 tcp4:127.0.0.1:0
  run -0 --separate-stderr "${IN[@]}" bash -c "ulimit -n 256 && '$PORTREG' scan -sT -p- --json 127.0.0.1"
  echo "$output" | jq -e '.summary.error == 0 and .summary.filtered == 0 and .summary.open + .summary.closed == 65535'
  got=$(echo "$output" | open_set | awk '{print $2}')
  for p in "${PORTS[@]}"; do grep -qx "$p" <<<"$got"; done
}

@test "the table: open ports with service names, closed ones counted" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  port=${PORTS[0]}
  scan_on_tty -sT -p "22,$port,3306" 127.0.0.1
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "portreg scan: 1 host x 3 tcp ports, connect engine, "* ]]
  [[ "$output" == *"$port/tcp"*"open"*"syn-ack"* ]]
  # nothing listens on 3306 here unless the host runs MySQL
  if ! "${IN[@]}" ss -Htln "sport = :3306" | grep -q .; then [[ "$output" == *"not shown: "*" closed"* ]]; fi
  scan_on_tty -sT -p 9 127.0.0.1
  [ "$status" -eq 1 ]
  [[ "$output" == *"0 open"* || "$output" == *"1 closed"* ]]
}

@test "piped, the scan prints plain tab-separated rows, one per port shown, no header or counts" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  port=${PORTS[0]}
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "9,$port" 127.0.0.1
  echo "$output"
  [ "${#lines[@]}" -eq 1 ]
  IFS=$'\t' read -r addr name p proto state service reason rtt extra <<<"${lines[0]}"
  [ "$addr" = 127.0.0.1 ] && [ "$name" = - ] && [ "$p" = "$port" ] && [ "$proto" = tcp ]
  [ "$state" = open ] && [ "$reason" = syn-ack ] && [ -z "$extra" ]
  [[ "$rtt" =~ ^[0-9]+\.[0-9]{3}$ ]]
  [[ "$output" != *"portreg scan:"* && "$output" != *"not shown"* && "$output" != *PORT* ]]
  # with --banners a ninth column, the escaped banner
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --banners -p "$port" 127.0.0.1
  [ "$(cut -f9 <<<"$output")" = 'SSH-2.0-portreg-test\r\n' ]
  # every port closed: nothing on stdout, exit 1
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 9 127.0.0.1
  [ -z "$output" ]
}

@test "--banners reads what the service sends first" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --banners -p "${PORTS[0]}" --json 127.0.0.1
  # the banner is shown escaped (as in the table and the XML), never as raw bytes
  echo "$output" | jq -e '.hosts[0].ports[0].banner == "SSH-2.0-portreg-test\\r\\n"'
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --banners -p "${PORTS[0]}" 127.0.0.1
  [[ "$output" == *'SSH-2.0-portreg-test\r\n'* ]]
}

@test "a banner with bytes that are not UTF-8 or are terminal controls: every output stays whole and escaped" {
  # telnet servers send 0xFF (IAC) first
  serve "$ECHOSERVE" --greeting $'abc\xff\xfedef\e[2J\xc2\x9b\r\n' tcp4:127.0.0.1:0
  escaped='abc\xff\xfedef\x1b[2J\xc2\x9b\r\n'
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --banners -p "${PORTS[0]}" --json 127.0.0.1
  echo "$output" | jq -e --arg b "$escaped" '.hosts[0].ports[0].banner == $b and .summary.open == 1'
  echo "$output" >"$BATS_TEST_TMPDIR/scan.json"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --banners -p "${PORTS[0]}" --ndjson 127.0.0.1
  echo "$output" | jq -e --arg b "$escaped" '.banner == $b'
  "${IN[@]}" "$PORTREG" scan -sT --banners -p "${PORTS[0]}" --no-progress 127.0.0.1 >"$BATS_TEST_TMPDIR/table" 2>/dev/null
  assert_no_control_bytes "$BATS_TEST_TMPDIR/table"
  grep -qF "$escaped" "$BATS_TEST_TMPDIR/table"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --banners -p "${PORTS[0]}" -oX "$BATS_TEST_TMPDIR/a.xml" 127.0.0.1
  if command -v xmllint >/dev/null; then
    [ "$(xmllint --xpath 'string(//script[@id="banner"]/@output)' "$BATS_TEST_TMPDIR/a.xml")" = "$escaped" ]
  fi
  # plan diff reads the scan
  printf 'hosts:\n  - name: h1\n    addresses: {internal: 127.0.0.1}\nservices:\n  - name: web\n    hosts: [h1]\n    port: %s/tcp\n    bind: any\n    exposure: public\n' \
    "${PORTS[0]}" >"$BATS_TEST_TMPDIR/plan.yaml"
  run -0 "$PORTREG" plan diff "$BATS_TEST_TMPDIR/plan.yaml" --scan "$BATS_TEST_TMPDIR/scan.json" --json
  echo "$output" | jq -e '[.items[].kind] == ["present"]'
}

@test "--ndjson streams one object per probe, closed ones included" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "1-50,${PORTS[0]}" --ndjson 127.0.0.1
  [ "$(echo "$output" | wc -l)" -eq 51 ]
  echo "$output" | jq -se --argjson p "${PORTS[0]}" 'map(select(.port == $p))[0].state == "open"
    and (map(.address) | unique) == ["127.0.0.1"] and (map(.port) | unique | length) == 51'
}

@test "-oX writes nmap XML that nmap's DTD accepts and ndiff reads" {
  command -v xmllint >/dev/null || skip "needs xmllint (libxml2-utils)"
  [ -f /usr/share/nmap/nmap.dtd ] || skip "needs nmap.dtd (nmap-common)"
  serve "$ECHOSERVE" tcp4:127.0.0.1:0 tcp6:[::1]:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "1-100,${PORTS[0]},${PORTS[1]}" -oX "$BATS_TEST_TMPDIR/a.xml" 127.0.0.1 ::1
  xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$BATS_TEST_TMPDIR/a.xml"
  xmllint --xpath "string(//host[address/@addr='127.0.0.1']/ports/port[state/@state='open']/@portid)" \
    "$BATS_TEST_TMPDIR/a.xml" | grep -qx "${PORTS[0]}"
  [ "$(xmllint --xpath 'string(//host[1]/ports/extraports/@count)' "$BATS_TEST_TMPDIR/a.xml")" -ge 99 ]
  if command -v ndiff >/dev/null; then
    run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "1-100,${PORTS[0]},${PORTS[1]}" -oX "$BATS_TEST_TMPDIR/b.xml" 127.0.0.1 ::1
    stop_sockholds; sleep 0.2
    # nothing listens any more: exit 1, and the XML is still written
    run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "1-100,${PORTS[0]},${PORTS[1]}" -oX "$BATS_TEST_TMPDIR/c.xml" 127.0.0.1 ::1
    run ndiff "$BATS_TEST_TMPDIR/b.xml" "$BATS_TEST_TMPDIR/c.xml"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"-${PORTS[0]}/tcp open"* ]]
  fi
}

@test "-oX - writes the XML alone to stdout" {
  command -v xmllint >/dev/null || skip "needs xmllint (libxml2-utils)"
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "${PORTS[0]}" -oX - 127.0.0.1
  [ ! -e ./- ]
  echo "$output" | xmllint --xpath "string(//port[state/@state='open']/@portid)" - | grep -qx "${PORTS[0]}"
  run --separate-stderr -2 "$PORTREG" scan -sT -p 1 -oX - --json 127.0.0.1
  [[ "$stderr" == *"-oX - and --json both write to stdout"* ]]
}

@test "-oX keeps the file's mode, owner and symlink; /dev/stdout is written, not renamed over" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  mkdir "$BATS_TEST_TMPDIR/out"
  printf 'old\n' >"$BATS_TEST_TMPDIR/out/scan.xml"
  chmod 0640 "$BATS_TEST_TMPDIR/out/scan.xml"
  if [ "$(id -u)" -eq 0 ]; then chown nobody:nogroup "$BATS_TEST_TMPDIR/out/scan.xml"; fi
  owner=$(stat -c %U:%G "$BATS_TEST_TMPDIR/out/scan.xml")
  ln -s out/scan.xml "$BATS_TEST_TMPDIR/link.xml"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "${PORTS[0]}" -oX "$BATS_TEST_TMPDIR/link.xml" 127.0.0.1
  [ -L "$BATS_TEST_TMPDIR/link.xml" ]
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/out/scan.xml")" = 640 ]
  [ "$(stat -c %U:%G "$BATS_TEST_TMPDIR/out/scan.xml")" = "$owner" ]
  grep -q '<nmaprun' "$BATS_TEST_TMPDIR/out/scan.xml"
  [ -z "$(ls -A "$BATS_TEST_TMPDIR/out" | grep -v '^scan.xml$')" ]   # no temporary left
  # /dev/stdout into a pipe: the XML arrives through it
  "${IN[@]}" "$PORTREG" scan -sT -p "${PORTS[0]}" -oX /dev/stdout 127.0.0.1 2>/dev/null | grep -q '<nmaprun'
}

@test "-oX into a missing directory is an error naming it, exit 2" {
  run --separate-stderr -2 "${IN[@]}" "$PORTREG" scan -sT -p 1 -oX "$BATS_TEST_TMPDIR/missing/x.xml" 127.0.0.1
  [[ "$stderr" == *"$BATS_TEST_TMPDIR/missing/x.xml: cannot write: directory $BATS_TEST_TMPDIR/missing does not exist"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/missing" ]
}

@test "--shard splits the probes: the two halves make the whole scan" {
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  spec="1-2000,${PORTS[0]}"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$spec" --seed 7 --ndjson 127.0.0.1
  whole=$(echo "$output" | jq -r .port | sort -n)
  run --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$spec" --seed 7 --shard 1/2 --ndjson 127.0.0.1
  one=$(echo "$output" | jq -r .port)
  run --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$spec" --seed 7 --shard 2/2 --ndjson 127.0.0.1
  two=$(echo "$output" | jq -r .port)
  [ "$(echo "$one" | wc -l)" -ge 1000 ] && [ "$(echo "$two" | wc -l)" -ge 1000 ]
  [ -z "$(comm -12 <(echo "$one" | sort -n) <(echo "$two" | sort -n))" ]
  diff <(printf '%s\n%s\n' "$one" "$two" | sort -n) <(echo "$whole")
}

@test "targets: ranges, CIDR, -iL with comments, --exclude" {
  printf '# loopback hosts\n127.0.0.1\n127.0.0.2-4  # a range\n\n127.0.1.0/30\n' >"$BATS_TEST_TMPDIR/targets"
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 9 -iL "$BATS_TEST_TMPDIR/targets" --exclude 127.0.0.3,127.0.1.1 --json
  echo "$output" | jq -e '.scan.targets == 6 and .scan.probes == 6'
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 9 --ndjson 127.0.0.1-3
  [ "$(echo "$output" | jq -r .address | sort -u | tr '\n' ' ')" = "127.0.0.1 127.0.0.2 127.0.0.3 " ]
}

@test "bad input names the place and exits 2" {
  IN=()
  run -2 "$PORTREG" scan -sT -p 22 10.0.0.300
  [[ "$output" == *'"10.0.0.300"'* ]]
  run -2 "$PORTREG" scan -sT -p 70000 127.0.0.1
  [[ "$output" == *'-p "70000": column'* ]]
  printf '127.0.0.1\n127.0.0.999\n' >"$BATS_TEST_TMPDIR/bad"
  run -2 "$PORTREG" scan -sT -p 22 -iL "$BATS_TEST_TMPDIR/bad"
  [[ "$output" == *"$BATS_TEST_TMPDIR/bad:2:"* ]]
  run -2 "$PORTREG" scan -p 22
  [[ "$output" == *"no targets"* ]]
  run -2 "$PORTREG" scan -e bogus -p 22 127.0.0.1
  [[ "$output" == *'--engine "bogus": unknown engine'* ]]
  run -2 "$PORTREG" scan --shard 3/2 -p 22 127.0.0.1
  [[ "$output" == *'--shard "3/2"'* ]]
  run -2 "$PORTREG" scan --timeout soon -p 22 127.0.0.1
  [[ "$output" == *'--timeout "soon"'* ]]
  run -2 "$PORTREG" scan -sT -p 22 --exclude 127.0.0.1 127.0.0.1
  [[ "$output" == *"no targets"* ]]
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan --help
  [[ "$output" == "usage: portreg scan"* ]]
}

@test "--local explains a listener bound to loopback only and one the firewall drops" {
  need_root
  command -v nft >/dev/null || skip "needs nftables"
  [ "${#IN[@]}" -gt 0 ] || skip "needs a network namespace"
  L=$ISO
  ip -n "$L" link add d0 type veth peer name d1; ip -n "$L" addr add 10.78.0.1/24 dev d0
  ip -n "$L" link set d0 up; ip -n "$L" link set d1 up
  ip netns exec "$L" "$SOCKHOLD" tcp4:127.0.0.1:8101 tcp4:0.0.0.0:8102 tcp4:0.0.0.0:8103 >"$BATS_TEST_TMPDIR/l" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  sleep 0.3
  ip netns exec "$L" nft add table inet t
  ip netns exec "$L" nft add chain inet t input '{ type filter hook input priority 0; }'
  ip netns exec "$L" nft add rule inet t input tcp dport 8102 drop
  run -0 --separate-stderr ip netns exec "$L" "$PORTREG" scan -sT -p 8101-8103 --timeout 300ms --local --json 10.78.0.1
  echo "$output"
  echo "$output" | jq -e '[.local[] | {key: (.port|tostring), value: .kind}] | from_entries
    | .["8101"] == "bound-elsewhere" and .["8102"] == "listener-not-reached" and (has("8103") | not)'
  echo "$output" | jq -e '.local[] | select(.port == 8102) | .listener | contains("held by sockhold")'
  scan_on_tty -sT -p 8101-8103 --timeout 300ms --local 10.78.0.1
  [ "$status" -eq 0 ]
  [[ "$output" == *"compared with this host's sockets (3 address:port pairs): 2 differences"* ]]
  # one pair is a pair
  scan_on_tty -sT -p 8103 --timeout 300ms --local 10.78.0.1
  [ "$status" -eq 0 ]
  [[ "$output" == *"compared with this host's sockets (1 address:port pair): no differences"* ]]
  # piped: a row per difference after the port rows, its kind first
  run -0 --separate-stderr ip netns exec "$L" "$PORTREG" scan -sT -p 8101-8103 --timeout 300ms --local 10.78.0.1
  echo "$output"
  [ "$(grep -c $'^bound-elsewhere\t10.78.0.1\t8101\ttcp\tclosed\t' <<<"$output")" -eq 1 ]
  [ "$(grep -c $'^listener-not-reached\t10.78.0.1\t8102\ttcp\tfiltered\t' <<<"$output")" -eq 1 ]
}

@test "on a terminal a progress line with rate and ETA goes to stderr; never into a pipe" {
  command -v script >/dev/null || skip "needs script (bsdutils)"
  run -1 "${IN[@]}" script -qec "'$PORTREG' scan -sT -p 1-3000 --rate 6000 127.0.0.1 >/dev/null" /dev/null
  echo "$output"
  [[ "$output" == *"ETA"* && "$output" == *"/3000"* && "$output" == *" open"* ]]
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 1-3000 --rate 6000 127.0.0.1
  [[ "$stderr" != *"ETA"* ]]
}

@test "-sT -sU, -sS -sU and -sSU scan TCP and UDP in one run; T: and U: go to their protocol" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0 udp4:127.0.0.1:0
  tport=${PORTS[0]}
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -sU -p "$tport,9" --json --timeout 300ms 127.0.0.1
  echo "$output" | jq -e --argjson p "$tport" '.scan.engine == "connect,udp" and .scan.ports == 4
    and ([.scan.passes[].proto] == ["tcp", "udp"])
    and ([.hosts[0].ports[] | select(.port == $p and .proto == "tcp")][0].state == "open")
    and (.hosts[0].counts.closed + .hosts[0].counts["open|filtered"] + .hosts[0].counts.open == 4)'
  scan_on_tty -sT -sU -p "T:$tport,U:9" --timeout 300ms 127.0.0.1
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "portreg scan: 1 host x 1 tcp + 1 udp ports, connect and udp engines, "* ]]
  [[ "$output" == *"$tport/tcp"*"open"* ]]
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -sU -p "T:$tport,U:9" -oX - --timeout 300ms 127.0.0.1
  [ "$(grep -c '<scaninfo' <<<"$output")" -eq 2 ]
  [[ "$output" == *'<scaninfo type="udp" protocol="udp" numservices="1" services="9"/>'* ]]
  if "${IN[@]}" "$PORTREG" scan -sS -p 1 127.0.0.1 --no-progress >/dev/null 2>&1 || [ $? -eq 1 ]; then
    run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sSU -p "$tport" --json --timeout 300ms 127.0.0.1
    echo "$output" | jq -e '.scan.engine == "syn,udp"'
    run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sS -sU -p "$tport" --json --timeout 300ms 127.0.0.1
    echo "$output" | jq -e '.scan.engine == "syn,udp" and .summary.open == 1'
  fi
  run -2 --separate-stderr "$PORTREG" scan -sS -sT -p 1 127.0.0.1
  [[ "$stderr" == *"-sS and -sT exclude each other"* ]]
}

@test "U: ports without a UDP scan type are said, not dropped silently" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "T:${PORTS[0]},U:53" 127.0.0.1
  [[ "$stderr" == *"-p names UDP ports (U:) but no UDP scan type is given: add -sU"* ]]
  run -2 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "U:53" 127.0.0.1
  [[ "$stderr" == *"-p names UDP ports"* ]]
  [[ "$stderr" == *"no tcp ports in the spec"* ]]
}

@test "-oX writes nmap-services' name with method table (unknown where it has none); the table keeps IANA's" {
  printf 'ssh\t22/tcp\t0.182286\nnmap-x11\t6000/tcp\t0.000000\n' >"$BATS_TEST_TMPDIR/nmap-services"
  export PORTREG_NMAP_SERVICES="$BATS_TEST_TMPDIR/nmap-services"
  serve "$SOCKHOLD" tcp4:127.0.0.1:6000 tcp4:127.0.0.1:7001
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 6000,7001 -oX "$BATS_TEST_TMPDIR/a.xml" 127.0.0.1
  echo "$output"
  [[ "$output" == *$'\t6000\ttcp\topen\tx11\t'* ]]
  [[ "$output" == *$'\t7001\ttcp\topen\tquotesvc\t'* ]]
  grep -A3 'portid="6000"' "$BATS_TEST_TMPDIR/a.xml" | grep -q '<service name="nmap-x11" method="table"'
  grep -A3 'portid="7001"' "$BATS_TEST_TMPDIR/a.xml" | grep -q '<service name="unknown" method="table"'
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 6000 --json 127.0.0.1
  echo "$output" | jq -e '.hosts[0].ports[0].service == "x11"'
}

@test "--banners with the syn engine reads banners through connect and says so" {
  need_syn
  serve "$ECHOSERVE" tcp4:127.0.0.1:0
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sS --banners -p "${PORTS[0]}" --json 127.0.0.1
  [[ "$stderr" == *"--banners reads from connections: TCP is scanned with the connect engine, not syn"* ]]
  echo "$output" | jq -e '.scan.engine == "connect" and .hosts[0].ports[0].banner == "SSH-2.0-portreg-test\\r\\n"'
}

@test "the table shows a host whose ports are all closed" {
  scan_on_tty -sT -p 1-5 127.0.0.1 ::1
  [ "$status" -eq 1 ]
  echo "$output"
  [[ "$output" == *$'\n127.0.0.1  5 closed\n'* ]]
  [[ "$output" == *$'\n::1  5 closed\n'* ]]
}

@test "-T0..-T5 are nmap's timing templates: -T4, -Taggressive and -T insane; explicit options override" {
  for t in -T4 -Taggressive "-T Aggressive"; do
    run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT $t -p 9 --json 127.0.0.1
    echo "$output" | jq -e '.scan.timing | .template == "aggressive" and .level == 4 and .timeout_ms == 1250
      and .initial_timeout_ms == 500 and .min_timeout_ms == 100 and .retries == 1'
  done
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -T5 -p 9 --json 127.0.0.1
  echo "$output" | jq -e '.scan.timing | .template == "insane" and .timeout_ms == 300 and .initial_timeout_ms == 250
    and .min_timeout_ms == 50'
  # -T3 is the default; without -T no template
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -T3 -p 9 --json 127.0.0.1
  echo "$output" | jq -e '.scan.timing | .template == "normal" and .timeout_ms == 1000 and .rate == 0'
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 9 --json 127.0.0.1
  echo "$output" | jq -e '.scan.timing | .template == null and .timeout_ms == 1000 and .initial_timeout_ms == 1000'
  # explicit options win over the template
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -T4 --timeout 2s --max-inflight 7 -p 9 --json 127.0.0.1
  echo "$output" | jq -e '.scan.timing | .timeout_ms == 2000 and .initial_timeout_ms == 500 and .max_inflight == 7'
  # -T2 (polite): one probe at a time, 400 ms apart
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -T2 -p 1-3 --json 127.0.0.1
  echo "$output" | jq -e '.scan.timing | .rate == 2.5 and .max_inflight == 1 and .threads == 1 and .timeout_ms == 10000'
  echo "$output" | jq -e '.scan.elapsed_s >= 0.7'
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -T2 --rate 0 -p 1-3 --json 127.0.0.1
  echo "$output" | jq -e '.scan.timing.rate == 0 and .scan.elapsed_s < 0.7'
  for bad in -T6 -Tfast -T; do
    run -2 --separate-stderr "$PORTREG" scan -sT $bad -p 9 127.0.0.1
  done
  run -2 --separate-stderr "$PORTREG" scan -sT -T9 -p 9 127.0.0.1
  [[ "$stderr" == *"-T9: a timing template is 0-5 or paranoid, sneaky, polite, normal, aggressive or insane"* ]]
}

@test "-T5 waits for a dropped probe as nmap's insane: 250 ms first, not the default second" {
  need_root
  command -v nft >/dev/null || skip "needs nftables"
  [ "${#IN[@]}" -gt 0 ] || skip "needs a network namespace"
  "${IN[@]}" nft add table inet t
  "${IN[@]}" nft add chain inet t input '{ type filter hook input priority 0; }'
  "${IN[@]}" nft add rule inet t input tcp dport 8202 drop
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -T5 -p 8202 --json 127.0.0.1
  echo "$output" | jq -e '.hosts[0].ports[0].state == "filtered" and .scan.elapsed_s < 0.9'
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 8202 --json 127.0.0.1
  echo "$output" | jq -e '.hosts[0].ports[0].state == "filtered" and .scan.elapsed_s >= 1.5'
}

@test "--open shows only open (and open|filtered) ports and their hosts: table, rows, JSON, -oX" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0
  port=${PORTS[0]}
  if [ "${#IN[@]}" -gt 0 ] && command -v nft >/dev/null; then
    "${IN[@]}" nft add table inet t
    "${IN[@]}" nft add chain inet t input '{ type filter hook input priority 0; }'
    "${IN[@]}" nft add rule inet t input tcp dport 8203 drop
  fi
  args=(-sT -p "9,8203,$port" --timeout 300ms --open)
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan "${args[@]}" --json -oX "$BATS_TEST_TMPDIR/o.xml" 127.0.0.1 ::1
  echo "$output" | jq -e --argjson p "$port" '.scan.open_only and ([.hosts[].address] == ["127.0.0.1"])
    and ([.hosts[0].ports[] | [.port, .state]] == [[$p, "open"]]) and .hosts[0].counts.closed >= 1
    and .summary.closed >= 2'
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan "${args[@]}" 127.0.0.1 ::1
  [ "$output" = "$(printf '127.0.0.1\t-\t%s\ttcp\topen\t' "$port")$(cut -f6- <<<"$output")" ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(grep -c '<host ' "$BATS_TEST_TMPDIR/o.xml")" -eq 1 ]
  [ "$(grep -c '<port ' "$BATS_TEST_TMPDIR/o.xml")" -eq 1 ]
  grep -q "portid=\"$port\"" "$BATS_TEST_TMPDIR/o.xml"
  scan_on_tty "${args[@]}" 127.0.0.1 ::1
  echo "$output"
  [[ "$output" == *"$port/tcp"*"open"* && "$output" != *"::1"* && "$output" != *"8203/tcp"* ]]
  # without --open the dropped port is listed
  if [ "${#IN[@]}" -gt 0 ] && command -v nft >/dev/null; then
    run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "9,8203,$port" --timeout 300ms 127.0.0.1
    [[ "$output" == *$'\t8203\ttcp\tfiltered\t'* ]]
  fi
}

@test "-F scans the 100 ports most often open, as --top-ports 100; not with -p" {
  for i in $(seq 1 150); do printf 'svc%d\t%d/tcp\t0.%06d\n' "$i" $((20000 + i)) $((1000 - i)); done \
    >"$BATS_TEST_TMPDIR/nmap-services"
  export PORTREG_NMAP_SERVICES="$BATS_TEST_TMPDIR/nmap-services"
  run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -F --json 127.0.0.1
  echo "$output" | jq -e '.scan.ports == 100 and .scan.port_list == "20001-20100"'
  run -2 --separate-stderr "$PORTREG" scan -sT -F -p 22 127.0.0.1
  [[ "$stderr" == *"-F (the top 100 ports) and -p exclude each other"* ]]
}

@test "-v says each open port as it is found and the timing at the end; -vv the timing first" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0
  port=${PORTS[0]}
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -v -p "9,$port" 127.0.0.1
  echo "$stderr"
  [[ "$stderr" == *"Discovered open port $port/tcp on 127.0.0.1"* ]]
  [[ "$stderr" == *"portreg: scan: 2 probes in "*", 0 resent after silence"* ]]
  [[ "$stderr" == *"portreg: scan: its timing: timeout 1000 ms (first 1000 ms, at least 100 ms), 1 retry"* ]]
  [[ "$stderr" != *"the timing"* && "$stderr" != *"Discovered open port 9/"* ]]
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -vv -T4 -p "$port" -oX "$BATS_TEST_TMPDIR/v.xml" 127.0.0.1
  [[ "${stderr_lines[0]}" == "portreg: scan: the timing -T4 (aggressive): timeout 1250 ms (first 500 ms, at least 100 ms)"* ]]
  [[ "$stderr" == *"Discovered open port $port/tcp on 127.0.0.1 (syn-ack, "* ]]
  grep -q '<verbose level="2"/>' "$BATS_TEST_TMPDIR/v.xml"
  # nmap's -v<level>: -v3 is a level, not -v and an option -3 (nor -v4 "IPv4 only")
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -v3 -p "$port" -oX "$BATS_TEST_TMPDIR/v3.xml" 127.0.0.1
  grep -q '<verbose level="3"/>' "$BATS_TEST_TMPDIR/v3.xml"
  run -2 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -vx -p "$port" 127.0.0.1
  [[ "$stderr" == *"-vx: a verbosity is -v, -vv... or -v0 to -v9"* ]]
  # without -v stderr stays quiet
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$port" 127.0.0.1
  [ -z "$stderr" ]
}

@test "--reason: nmap's REASON column in -oN; the table, rows and JSON always carry the reason; -oX reason attributes" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0
  port=${PORTS[0]}
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --reason -p "9,$port" -oN - 127.0.0.1
  echo "$output"
  grep -Eq "^PORT +STATE +SERVICE +REASON$" <<<"$output"
  grep -Eq "^$port/tcp +open +[^ ]+ +syn-ack$" <<<"$output"
  grep -q "^Not shown: 1 closed tcp port (conn-refused)$" <<<"$output"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "9,$port" -oN - 127.0.0.1
  grep -Eq "^PORT +STATE +SERVICE$" <<<"$output"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT --reason -p "9,$port" --json -oX "$BATS_TEST_TMPDIR/r.xml" 127.0.0.1
  echo "$output" | jq -e '.hosts[0].ports[0].reason == "syn-ack"'
  grep -q '<state state="open" reason="syn-ack"' "$BATS_TEST_TMPDIR/r.xml"
  grep -q '<extrareasons reason="conn-refused" count="1" proto="tcp"/>' "$BATS_TEST_TMPDIR/r.xml"
}

@test "-oN, -oG and -oA write nmap's normal and grepable formats (and XML) through the safe writer" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:22 tcp4:127.0.0.1:0
  port=${PORTS[1]}
  printf 'ssh\t22/tcp\t0.182286\n' >"$BATS_TEST_TMPDIR/nmap-services"
  export PORTREG_NMAP_SERVICES="$BATS_TEST_TMPDIR/nmap-services"
  base="$BATS_TEST_TMPDIR/out/run"
  mkdir "$BATS_TEST_TMPDIR/out"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "22,9,$port" -oA "$base" -4 localhost
  [ -s "$base.nmap" ] && [ -s "$base.gnmap" ] && [ -s "$base.xml" ]
  cat "$base.gnmap"
  grep -qx "$(printf 'Host: 127.0.0.1 (localhost)\tStatus: Up')" "$base.gnmap"
  grep -qx "$(printf 'Host: 127.0.0.1 (localhost)\tPorts: 22/open/tcp//ssh///, %s/open/tcp//unknown///\tIgnored State: closed (1)' "$port")" "$base.gnmap"
  grep -q "^# portreg .* scan initiated .* as: portreg scan -sT" "$base.gnmap"
  grep -q "^# portreg done at .* -- 1 IP address (1 host up) scanned in " "$base.gnmap"
  cat "$base.nmap"
  grep -qx "portreg scan report for localhost (127.0.0.1)" "$base.nmap"
  grep -Eqx "22/tcp +open +ssh" "$base.nmap"
  grep -qx "Not shown: 1 closed tcp port (conn-refused)" "$base.nmap"
  if command -v xmllint >/dev/null && [ -f /usr/share/nmap/nmap.dtd ]; then
    xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$base.xml"
  fi
  # the file keeps its mode when replaced, as -oX
  chmod 600 "$base.gnmap"
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 22 -oG "$base.gnmap" 127.0.0.1
  [ "$(stat -c %a "$base.gnmap")" = 600 ]
  grep -q $'Host: 127.0.0.1 ()\tPorts: 22/open/tcp//ssh///' "$base.gnmap"
  # "-" is stdout, alone
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 22 -oG - 127.0.0.1
  [ "${#lines[@]}" -eq 4 ] && [[ "${lines[0]}" == "# portreg "* ]] && [[ "${lines[3]}" == "# portreg done at "* ]]
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 22 -oN - 127.0.0.1
  [[ "${lines[1]}" == "portreg scan report for 127.0.0.1" ]]
  # usage errors: two formats on stdout, -oA -, a missing directory, nmap's forms portreg lacks
  run -2 --separate-stderr "$PORTREG" scan -sT -p 22 -oN - -oG - 127.0.0.1
  [[ "$stderr" == *"-oN - and -oG - both write to stdout"* ]]
  run -2 --separate-stderr "$PORTREG" scan -sT -p 22 -oN - --json 127.0.0.1
  run -2 --separate-stderr "$PORTREG" scan -sT -p 22 -oA - 127.0.0.1
  run -2 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p 22 -oN "$BATS_TEST_TMPDIR/nodir/x.nmap" 127.0.0.1
  [[ "$stderr" == *"nodir"* ]]
  run -2 --separate-stderr "$PORTREG" scan -sT -p 22 -oS x 127.0.0.1
  [[ "$stderr" == *"-oS: only -iL FILE and -oX, -oN, -oG FILE, -oA BASE"* ]]
}

@test "the name as typed: localhost (127.0.0.1) in the table, rows, JSON, NDJSON and -oX" {
  serve "$SOCKHOLD" tcp4:127.0.0.1:0
  port=${PORTS[0]}
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$port" --json -oX "$BATS_TEST_TMPDIR/n.xml" -4 localhost 127.0.0.2
  echo "$output" | jq -e '[.hosts[] | [.address, .name]] == [["127.0.0.1", "localhost"], ["127.0.0.2", null]]'
  grep -q '<hostname name="localhost" type="user"/>' "$BATS_TEST_TMPDIR/n.xml"
  [ "$(grep -c '<hostname ' "$BATS_TEST_TMPDIR/n.xml")" -eq 1 ]
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$port" --ndjson -4 localhost
  echo "$output" | jq -e '.name == "localhost" and .address == "127.0.0.1"'
  run -0 --separate-stderr "${IN[@]}" "$PORTREG" scan -sT -p "$port" -4 localhost
  [[ "$output" == "$(printf '127.0.0.1\tlocalhost\t%s\ttcp\topen' "$port")"* ]]
  scan_on_tty -sT -p "$port" -4 localhost
  [[ "$output" == *$'\nlocalhost (127.0.0.1)  1 open\n'* ]]
}

@test "--max-inflight 1 (as -T0..-T2) holds one probe at a time with the syn engine too" {
  need_syn
  command -v nft >/dev/null || skip "needs nftables"
  [ "${#IN[@]}" -gt 0 ] || skip "needs a network namespace"
  "${IN[@]}" nft add table inet t
  "${IN[@]}" nft add chain inet t input '{ type filter hook input priority 0; }'
  "${IN[@]}" nft add rule inet t input tcp dport 8301-8303 drop
  for engine in syn connect; do
    # three silent ports, 300 ms each, one after another
    run -1 --separate-stderr "${IN[@]}" "$PORTREG" scan -e "$engine" --max-inflight 1 --retries 0 --timeout 300ms \
      -p 8301-8303 --json 127.0.0.1
    echo "$engine: $output" | cut -c1-300
    echo "$output" | jq -e '.summary.filtered == 3 and .scan.elapsed_s >= 0.85'
  done
}
