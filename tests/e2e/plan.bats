#!/usr/bin/env bats
# plan.bats — `portreg plan check|export|diff` end to end: the example plan, broken plans
# (file:line:column and the field), `auto` written back keeping comments, every export format,
# and drift against live sockets and against a real scan, inside a network namespace of the
# test's own.
load helpers

EXAMPLE="$BATS_TEST_DIRNAME/../../examples/plan.yaml"
PLANS="${PORTREG_FIXTURES}/plan"

setup() {
  portreg_setup
  use_iana_fixture
  NS=""
}

teardown() {
  stop_sockholds
  [ -n "$NS" ] && ip netns delete "$NS" 2>/dev/null || true
}

@test "check: the example plan is consistent; auto ports are resolved and printed" {
  run -0 "$PORTREG" plan check "$EXAMPLE"
  echo "$output"
  [[ "$output" == *"info: services[1].port: auto resolved to "*"/tcp for app"* ]]
  [[ "${lines[-1]}" == *"5 services: 0 errors, "*" (the plan is consistent)" ]]
  run -0 "$PORTREG" plan check --json "$EXAMPLE"
  echo "$output" | jq -e '.errors == 0 and .services == 5 and ([.diagnostics[] | select(.code == "auto-port")] | length == 1)'
  # deterministic: the same port on every run
  a=$("$PORTREG" plan check --json "$EXAMPLE" | jq -r '.diagnostics[] | select(.code == "auto-port") | .message')
  b=$("$PORTREG" plan check --json "$EXAMPLE" | jq -r '.diagnostics[] | select(.code == "auto-port") | .message')
  [ "$a" = "$b" ]
}

@test "check without libfyaml names the Debian package to install (it crashed before)" {
  need_root
  run without_library libfyaml.so.0 "$PORTREG" plan check "$EXAMPLE"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"plan.yaml: error: libfyaml is not installed (Debian package libfyaml0)"* ]]
}

@test "check: every error names file:line:column and the field; exit 1" {
  run -1 "$PORTREG" plan check "$PLANS/bad_ports.yaml"
  echo "$output"
  [[ "$output" =~ bad_ports\.yaml:[0-9]+:[0-9]+:\ error:\ services\[[0-9]+\]\.port ]]
  run -1 "$PORTREG" plan check --json "$PLANS/unknown_keys.yaml"
  echo "$output" | jq -e '.errors >= 1 and (.diagnostics[0] | .file != null and .line > 0 and .column > 0 and .field != null)'
  run -2 "$PORTREG" plan check "$PLANS/syntax.yaml"   # not YAML: bad input
  [[ "$output" == *"syntax.yaml:"*":"*": error:"* ]]
}

@test "check: every finding is on stdout, field errors as conflicts; stderr stays empty" {
  run --separate-stderr -1 "$PORTREG" plan check "$PLANS/bad_ports.yaml"
  echo "$output"; echo "$stderr"
  [ -z "$stderr" ]
  [[ "$output" == *"bad_ports.yaml:6:13: error: services[0].ports[0]: port 70000 is out of range 1-65535"* ]]
  [ "${lines[-1]}" = "8 errors, 0 warnings: the plan could not be loaded, nothing else was checked" ]
  run --separate-stderr -2 "$PORTREG" plan check "$PLANS/syntax.yaml"
  [ -z "$stderr" ]
  [[ "$output" == *"syntax.yaml:"*": error:"* ]]
  [ "${lines[-1]}" = "1 error, 0 warnings: the plan could not be loaded, nothing else was checked" ]
  # a conflict found by the check rules: the same stream
  cat >"$BATS_TEST_TMPDIR/conflict.yaml" <<'EOF'
hosts:
  - name: h1
services:
  - name: one
    hosts: [h1]
    port: 8080/tcp
  - name: two
    hosts: [h1]
    port: 8080/tcp
EOF
  run --separate-stderr -1 "$PORTREG" plan check "$BATS_TEST_TMPDIR/conflict.yaml"
  echo "$output"; echo "$stderr"
  [ -z "$stderr" ]
  [[ "$output" == *"conflict.yaml:"*": error: "* ]]
  # a file that cannot be read is portreg's own error: stderr, exit 2
  run --separate-stderr -2 "$PORTREG" plan check "$BATS_TEST_TMPDIR/missing.yaml"
  [ -z "$output" ]
  [[ "$stderr" == "portreg: plan check: "*"missing.yaml"* ]]
}

@test "check: the same port bound twice on one host is a conflict naming both places" {
  cat >"$BATS_TEST_TMPDIR/a.yaml" <<'EOF'
hosts:
  - name: h1
    addresses: {internal: 10.0.0.1}
services:
  - name: one
    hosts: [h1]
    port: 8080/tcp
    bind: any
    exposure: internal
    sources: [10.0.0.0/8]
EOF
  cat >"$BATS_TEST_TMPDIR/b.yaml" <<'EOF'
services:
  - name: two
    hosts: [h1]
    port: 8080/tcp
    bind: internal
    exposure: internal
    sources: [10.0.0.0/8]
EOF
  run -1 "$PORTREG" plan check --json "$BATS_TEST_TMPDIR/a.yaml" "$BATS_TEST_TMPDIR/b.yaml"
  echo "$output"
  echo "$output" | jq -e '[.diagnostics[] | select(.code == "bind-conflict")] | length >= 1'
  echo "$output" | jq -e '.diagnostics[] | select(.code == "bind-conflict") | (.file | endswith(".yaml")) and .related != null'
  # on different specific addresses they do not clash
  sed -i 's/bind: any/bind: 10.0.0.2/' "$BATS_TEST_TMPDIR/a.yaml"
  run "$PORTREG" plan check --json "$BATS_TEST_TMPDIR/a.yaml" "$BATS_TEST_TMPDIR/b.yaml"
  echo "$output" | jq -e '[.diagnostics[] | select(.code == "bind-conflict")] | length == 0'
}

@test "check --write stores auto ports in the file, keeps the comments, and is idempotent" {
  cp "$EXAMPLE" "$BATS_TEST_TMPDIR/plan.yaml"
  port=$("$PORTREG" plan check --json "$EXAMPLE" | jq -r '.diagnostics[] | select(.code == "auto-port") | .message' | grep -o 'resolved to [0-9]*' | awk '{print $3}')
  run -0 "$PORTREG" plan check --write "$BATS_TEST_TMPDIR/plan.yaml"
  [[ "$output" == *"wrote 1 port into 1 file"* ]]
  # exactly one line changed: auto became the port
  run diff "$EXAMPLE" "$BATS_TEST_TMPDIR/plan.yaml"
  [ "$(echo "$output" | grep -c '^[<>]')" -eq 2 ]
  [[ "$output" == *"auto"* && "$output" == *"$port"* ]]
  grep -q '^# examples/plan.yaml' "$BATS_TEST_TMPDIR/plan.yaml"
  run -0 "$PORTREG" plan check --write "$BATS_TEST_TMPDIR/plan.yaml"
  [[ "$output" == *"wrote 0 ports into 0 files"* ]]
}

@test "check --write keeps the plan's mode, owner, symlink and hard links" {
  mkdir "$BATS_TEST_TMPDIR/plans"
  cp "$EXAMPLE" "$BATS_TEST_TMPDIR/plans/real.yaml"
  chmod 0640 "$BATS_TEST_TMPDIR/plans/real.yaml"
  if [ "$(id -u)" -eq 0 ]; then chown nobody:nogroup "$BATS_TEST_TMPDIR/plans/real.yaml"; fi
  owner=$(stat -c %U:%G "$BATS_TEST_TMPDIR/plans/real.yaml")
  ln -s plans/real.yaml "$BATS_TEST_TMPDIR/plan.yaml"
  run -0 "$PORTREG" plan check --write "$BATS_TEST_TMPDIR/plan.yaml"
  [[ "$output" == *"wrote 1 port into 1 file"* ]]
  [ -L "$BATS_TEST_TMPDIR/plan.yaml" ]
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/plans/real.yaml")" = 640 ]
  [ "$(stat -c %U:%G "$BATS_TEST_TMPDIR/plans/real.yaml")" = "$owner" ]
  run -1 grep -q '^ *port: auto' "$BATS_TEST_TMPDIR/plans/real.yaml"
  [ "$(ls -A "$BATS_TEST_TMPDIR/plans")" = "real.yaml" ]   # no temporary left
  # a hard-linked plan stays one file under both names
  cp "$EXAMPLE" "$BATS_TEST_TMPDIR/a.yaml"
  ln "$BATS_TEST_TMPDIR/a.yaml" "$BATS_TEST_TMPDIR/b.yaml"
  run -0 "$PORTREG" plan check --write "$BATS_TEST_TMPDIR/a.yaml"
  [ "$(stat -c %h "$BATS_TEST_TMPDIR/a.yaml")" = 2 ]
  [ "$(stat -c %i "$BATS_TEST_TMPDIR/a.yaml")" = "$(stat -c %i "$BATS_TEST_TMPDIR/b.yaml")" ]
  run -1 grep -q '^ *port: auto' "$BATS_TEST_TMPDIR/b.yaml"
}

@test "export -o: - is stdout, a missing directory is an error (exit 2) that creates nothing" {
  run -0 "$PORTREG" plan export "$EXAMPLE" --format services -o -
  [[ "$output" == *"nginx           443/tcp"* ]]
  [ ! -e ./- ]
  run --separate-stderr -2 "$PORTREG" plan export "$EXAMPLE" --format services -o "$BATS_TEST_TMPDIR/missing/x"
  [[ "$stderr" == *"$BATS_TEST_TMPDIR/missing/x: cannot write: directory $BATS_TEST_TMPDIR/missing does not exist"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/missing" ]
}

@test "export: services(5), IANA CSV, JSON and NetBox CSV" {
  run -0 "$PORTREG" plan export "$EXAMPLE" --format services
  [[ "$output" == *"nginx           443/tcp"* ]]
  run -0 "$PORTREG" plan export "$EXAMPLE" --format iana-csv
  [[ "${lines[0]}" == "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes"* ]]
  # the registry reads the exported CSV back
  "$PORTREG" plan export "$EXAMPLE" --format iana-csv -o "$BATS_TEST_TMPDIR/own.csv"
  run -0 "$PORTREG" registry update --from "$BATS_TEST_TMPDIR/own.csv" --force
  run -0 "$PORTREG" lookup nginx --json
  echo "$output" | jq -e '[.queries[0].records[].port] | sort == [80, 443]'
  run -0 "$PORTREG" plan export "$EXAMPLE" --format json
  echo "$output" | jq -e '(.services | length) == 5 and (.hosts | length) == 3'
  run -0 "$PORTREG" plan export "$EXAMPLE" --format netbox-csv
  # NetBox 4.3+ columns by default (RFC 4180: CRLF)
  [ "${lines[0]%$'\r'}" = "parent_object_type,parent,name,protocol,ports,description" ]
  [[ "$output" == *'dcim.device,web1,nginx,tcp,"80,443"'* ]]
  run -0 "$PORTREG" plan export "$EXAMPLE" --format netbox-csv --netbox-columns pre-4.3
  [ "${lines[0]%$'\r'}" = "device,name,protocol,ports,description" ]
  [[ "$output" == *$'\n''web1,nginx,tcp,"80,443"'* ]]
  run -0 "$PORTREG" plan export "$EXAMPLE" --format netbox-csv --netbox-columns 4.3
  [ "${lines[0]%$'\r'}" = "parent_object_type,parent,name,protocol,ports,description" ]
  run -2 "$PORTREG" plan export "$EXAMPLE" --format netbox-csv --netbox-columns 3.7
  [[ "$output" == *'--netbox-columns "3.7": 4.3 or pre-4.3'* ]]
  run -2 "$PORTREG" plan export "$EXAMPLE" --format json --netbox-columns pre-4.3
  [[ "$output" == *'--netbox-columns goes with --format netbox-csv'* ]]
  run -2 "$PORTREG" plan export "$EXAMPLE" --format yaml
  [[ "$output" == *'--format "yaml"'* ]]
}

# A plan for host h1 whose listeners the tests open: web 18080 any, cache 16379 loopback,
# api 18081 any (never started).
write_drift_plan() {
  cat >"$BATS_TEST_TMPDIR/drift.yaml" <<'EOF'
hosts:
  - name: h1
    addresses: {internal: 127.0.0.1}
services:
  - name: web
    hosts: [h1]
    port: 18080/tcp
    bind: any
    exposure: public
  - name: cache
    hosts: [h1]
    port: 16379/tcp
    bind: loopback
    exposure: loopback
  - name: api
    hosts: [h1]
    port: 18081/tcp
    bind: any
    exposure: public
EOF
}

make_ns() {
  need_root
  NS="portreg-plan-$$-$BATS_TEST_NUMBER"
  ip netns add "$NS"; ip -n "$NS" link set lo up
  ip netns exec "$NS" "$SOCKHOLD" tcp4:0.0.0.0:18080 tcp4:0.0.0.0:16379 tcp4:127.0.0.1:19999 \
    >"$BATS_TEST_TMPDIR/h" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  until grep -q ready "$BATS_TEST_TMPDIR/h"; do sleep 0.05; done
}

@test "diff --live: present, wrong address, absent and undeclared; exit 1 on drift" {
  write_drift_plan
  make_ns
  run -1 ip netns exec "$NS" "$PORTREG" plan diff "$BATS_TEST_TMPDIR/drift.yaml" --live --host h1 --json
  echo "$output"
  echo "$output" | jq -e '[.items[] | {key: (.port|tostring), value: .kind}] | from_entries
    | .["18080"] == "present" and .["16379"] == "wrong-address" and .["18081"] == "absent" and .["19999"] == "undeclared"'
  echo "$output" | jq -e '.items[] | select(.port == 19999) | .process == "sockhold"'
  run -1 ip netns exec "$NS" "$PORTREG" plan diff "$BATS_TEST_TMPDIR/drift.yaml" --live --host h1
  [[ "$output" == *"1 present, 1 absent, 1 on the wrong address, 1 undeclared"* ]]
  run -2 ip netns exec "$NS" "$PORTREG" plan diff "$BATS_TEST_TMPDIR/drift.yaml" --live --host nosuch
}

@test "diff piped: tab-separated rows, counts on stderr; IPv6 addresses in brackets as ls shows them" {
  write_drift_plan
  need_root
  NS="portreg-plan-$$-$BATS_TEST_NUMBER"
  ip netns add "$NS"; ip -n "$NS" link set lo up
  ip netns exec "$NS" "$SOCKHOLD" 'tcp6:[::]:18080' tcp4:127.0.0.1:19999 >"$BATS_TEST_TMPDIR/h" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  until grep -q ready "$BATS_TEST_TMPDIR/h"; do sleep 0.05; done
  run --separate-stderr -1 ip netns exec "$NS" "$PORTREG" plan diff "$BATS_TEST_TMPDIR/drift.yaml" --live --host h1
  echo "$output"; echo "$stderr"
  [ "$(echo "$output" | awk -F'\t' 'NF != 5' | wc -l)" -eq 0 ]
  [[ "$output" == *$'h1\tpresent\t18080/tcp\tweb\theld on [::] (every address) by sockhold'* ]]
  [[ "$output" == *$'h1\tabsent\t16379/tcp\tcache\t'* ]]
  [[ "$output" == *$'h1\tundeclared\t19999/tcp\t-\theld on 127.0.0.1 by sockhold'* ]]
  [[ "$output" != *" :: "* ]]
  [ "$stderr" = "1 present, 2 absent, 0 on the wrong address, 1 undeclared" ]
  # the address as `portreg ls` writes it
  ip netns exec "$NS" "$PORTREG" ls -t --port 18080 | grep -qF '[::]:18080'
  # on a terminal: the grouped report and the counts on stdout
  command -v script >/dev/null || skip "needs script (bsdutils)"
  script -qec "ip netns exec '$NS' '$PORTREG' --color never plan diff '$BATS_TEST_TMPDIR/drift.yaml' --live --host h1" \
    /dev/null </dev/null | tr -d '\r' >"$BATS_TEST_TMPDIR/tty.out"
  cat "$BATS_TEST_TMPDIR/tty.out"
  [ "$(head -1 "$BATS_TEST_TMPDIR/tty.out")" = h1 ]
  grep -qE '^  present +18080/tcp +web +held on \[::\] \(every address\)' "$BATS_TEST_TMPDIR/tty.out"
  [ "$(tail -1 "$BATS_TEST_TMPDIR/tty.out")" = "1 present, 2 absent, 0 on the wrong address, 1 undeclared" ]
}

@test "diff --scan: the drift of a real scan of the host" {
  write_drift_plan
  make_ns
  ip netns exec "$NS" "$PORTREG" scan -sT -p 16000-20000 --json 127.0.0.1 >"$BATS_TEST_TMPDIR/scan.json"
  run -1 "$PORTREG" plan diff "$BATS_TEST_TMPDIR/drift.yaml" --scan "$BATS_TEST_TMPDIR/scan.json" --json
  echo "$output"
  echo "$output" | jq -e '[.items[] | {key: (.port|tostring), value: .kind}] | from_entries
    | .["18080"] == "present" and .["18081"] == "absent" and .["19999"] == "undeclared"'
  echo '{"hosts": [{"address": "127.0.0.1", "ports": [{"port": "x"}]}]}' >"$BATS_TEST_TMPDIR/bad.json"
  run -2 "$PORTREG" plan diff "$BATS_TEST_TMPDIR/drift.yaml" --scan "$BATS_TEST_TMPDIR/bad.json"
  [[ "$output" == *"hosts[0].ports[0].port"* ]]
}

@test "bad arguments exit 2" {
  run -2 "$PORTREG" plan
  run -2 "$PORTREG" plan frobnicate x.yaml
  [[ "$output" == *'unknown subcommand "frobnicate"'* ]]
  run -2 "$PORTREG" plan check
  [[ "$output" == *"no plan files"* ]]
  run -2 "$PORTREG" plan check "$BATS_TEST_TMPDIR/missing.yaml"
  [[ "$output" == *"missing.yaml"* ]]
  run -2 "$PORTREG" plan diff "$EXAMPLE"
  [[ "$output" == *"either --live or --scan"* ]]
  run -0 "$PORTREG" plan --help
  [[ "$output" == "usage: portreg plan check"* ]]
}

@test "check: a port is decimal (0x50 is not port 0) and a long number is echoed whole" {
  run -1 "$PORTREG" plan check "$PLANS/bad_port_numbers.yaml"
  echo "$output"
  [[ "$output" == *'bad_port_numbers.yaml:6:13: error: services[0].ports[0]: port "0x50" is not a decimal number 1-65535'* ]]
  [[ "$output" == *'ports[1]: port 12345678901234567890123456789 is out of range 1-65535'* ]]
  [[ "$output" == *'policy.static: port "0x400" is not a decimal number'* ]]
  [[ "$output" != *"port 0 "* ]]
}

# remote1 declares no ephemeral range; here is the machine the test runs on (local: true).
write_range_plan() {
  cat >"$BATS_TEST_TMPDIR/range.yaml" <<'EOF'
policy: {auto: 30000-45000}
hosts:
  - {name: remote1, addresses: [192.0.2.10]}
  - {name: here, addresses: [192.0.2.11], local: true}
services:
  - {name: api, hosts: [remote1], port: auto, exposure: public}
  - {name: low, hosts: [remote1], port: 33000, exposure: public}
  - {name: mine, hosts: [here], port: 41000, exposure: public}
EOF
}

@test "check: remote hosts get the kernel's default ephemeral range, not this machine's; --write picks the same auto port anywhere" {
  need_root
  write_range_plan
  NS="portreg-plan-eph-$$"; ip netns add "$NS"
  # this machine with the kernel's default range
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="32768 60999"
  run -0 ip netns exec "$NS" "$PORTREG" plan check "$BATS_TEST_TMPDIR/range.yaml" --json
  echo "$output"
  first=$(echo "$output" | jq -r '.diagnostics[] | select(.code == "auto-port") | .message')
  echo "$output" | jq -e '[.diagnostics[] | select(.code == "ephemeral-port") | .field] | sort == ["services[1].port", "services[2].port"]'
  # this machine with another range: the remote host's answers do not change, here's do
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="40000 50000"
  run -0 ip netns exec "$NS" "$PORTREG" plan check "$BATS_TEST_TMPDIR/range.yaml" --json
  echo "$output"
  [ "$(echo "$output" | jq -r '.diagnostics[] | select(.code == "auto-port") | .message')" = "$first" ]
  echo "$output" | jq -e '.diagnostics[] | select(.code == "ephemeral-port" and .field == "services[2].port") | .message | contains("40000-50000")'
  echo "$output" | jq -e '.diagnostics[] | select(.code == "ephemeral-port" and .field == "services[1].port") | .message | contains("32768-60999")'
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="42000 50000"
  run -0 ip netns exec "$NS" "$PORTREG" plan check "$BATS_TEST_TMPDIR/range.yaml" --json
  echo "$output" | jq -e '[.diagnostics[] | select(.code == "ephemeral-port") | .field] == ["services[1].port"]'
  [ "$(echo "$output" | jq -r '.diagnostics[] | select(.code == "auto-port") | .message')" = "$first" ]
  # --write stores that same port
  ip netns exec "$NS" "$PORTREG" plan check "$BATS_TEST_TMPDIR/range.yaml" --write >/dev/null
  port=$(grep -o 'name: api, hosts: \[remote1\], port: [0-9]*' "$BATS_TEST_TMPDIR/range.yaml" | grep -o '[0-9]*$')
  [[ "$first" == *"auto resolved to $port/tcp"* ]]
}

@test "check: auto skips ports IANA notes unauthorized use of, as suggest does" {
  printf '%s\n' 'Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes' \
    'alpha,23100,tcp,Alpha,,,,,,,,' \
    ',23101-23103,,Unassigned,,,,,,,Unauthorized Use Known on ports 23101-23103,' \
    ',23104-23110,,Unassigned,,,,,,,,' >"$BATS_TEST_TMPDIR/unauth.csv"
  "$PORTREG" registry update --from "$BATS_TEST_TMPDIR/unauth.csv" --force >/dev/null
  # "e" starts its walk at 23101 (the hash of its name): without the rule it would get 23101
  cat >"$BATS_TEST_TMPDIR/unauth.yaml" <<'YAML'
policy: {auto: 23101-23104}
hosts:
  - {name: h1, addresses: [192.0.2.10]}
services:
  - {name: e, hosts: [h1], port: auto, exposure: internal}
YAML
  run -0 "$PORTREG" plan check --json "$BATS_TEST_TMPDIR/unauth.yaml"
  echo "$output" | jq -e '[.diagnostics[] | select(.code == "auto-port") | .message] == ["auto resolved to 23104/tcp for e"]'
}

@test "check: text quoted from a plan in a message is escaped (no terminal control, valid JSON)" {
  printf 'hosts:\n  - {name: "h\\e[31mX\\tY", addresses: [192.0.2.1]}\nservices: []\n' >"$BATS_TEST_TMPDIR/ctl.yaml"
  run -1 --separate-stderr "$PORTREG" plan check "$BATS_TEST_TMPDIR/ctl.yaml"
  [[ "$output$stderr" == *'invalid name "h\x1b[31mX\tY"'* ]]
  [[ "$output$stderr" != *$'\e'* && "$output$stderr" != *$'\t'* ]]
  run -1 "$PORTREG" plan check --json "$BATS_TEST_TMPDIR/ctl.yaml"
  echo "$output" | jq -e '.diagnostics[0].message | startswith("invalid name \"h\\x1b[31mX\\tY\"")'
}
