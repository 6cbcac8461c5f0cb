#!/usr/bin/env python3
"""agent_load.py — a load generator of portreg agents: AGENTS (1,000) simulated hosts, each
with SOCKETS (~200) listeners, reporting to POST /api/v1/observations as `portreg agent` does
(the agent contract, docs/API.md): a full report at start (spread over the first interval),
then every INTERVAL (10 s) a gzip delta with CHANGES (1) change, a 409 resync answered with a
full report. Prints the sustained reports/s, the answers by status, latency p50/p99/max and
the bytes sent; the server's CPU and RSS are the caller's to watch (pidstat -p PID 1, or
/proc/PID/status VmHWM), e.g. with bench/serve_common.sh.

usage:
  bench/agent_load.py --server URL (--token T | --tokens FILE) [--agents 1000] [--sockets 200]
                      [--interval 10] [--duration 60] [--changes 1] [--threads 32]
                      [--host-prefix agent-] [--json]
--tokens FILE: one "HOST TOKEN" per line (agent tokens are per host: create them with
`portreg serve token create --role agent --host agent-0001` ...); the hosts are the file's, in
order. --token T: one token for every host (a test server that does not check the host).

Run against the real server after the agents' server side is merged (1,000 agents, 10 s,
≤ 1 core busy is the bar of issue 11); until then it is smoked against
tests/e2e/agent_fake_server.py:
  python3 tests/e2e/agent_fake_server.py /tmp/p /tmp/log /tmp/state --token t &
  bench/agent_load.py --server http://127.0.0.1:$(cat /tmp/p) --token t --agents 20 --sockets 50 \
      --interval 2 --duration 10
Exit status: 0 when every report was answered 2xx or 409, 1 otherwise."""
import argparse
import gzip
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

PATH = "/api/v1/observations"


class Agent:
    def __init__(self, host, token, sockets, rng):
        self.host, self.token, self.rng = host, token, rng
        self.listeners = {}
        self.next_port = 1024
        for _ in range(sockets):
            self.add_listener()
        self.base = None            # the last acknowledged seq; None: send a full report
        self.seq = 0
        self.pending_added, self.pending_removed = [], []

    def add_listener(self):
        port = self.next_port
        self.next_port += 1
        proto = "udp" if port % 7 == 0 else "tcp"
        address = "127.0.0.1" if port % 3 == 0 else "0.0.0.0"
        listener = {"proto": proto, "local_address": address, "local_port": port, "netns": "host",
                    "process": "svc%d" % (port % 50), "pid": 1000 + port, "user": "svc",
                    "unit": "svc%d.service" % (port % 50), "container": None,
                    "exposure": "loopback" if address == "127.0.0.1" else "all-ipv4"}
        self.listeners[(proto, address, port, "host")] = listener
        return listener

    def change(self, count):
        """count changes: alternately a listener closed and one opened"""
        for _ in range(count):
            if self.rng.random() < 0.5 and self.listeners:
                key = self.rng.choice(list(self.listeners))
                gone = self.listeners.pop(key)
                self.pending_removed.append({k: gone[k] for k in ("proto", "local_address", "local_port", "netns")})
            else:
                self.pending_added.append(self.add_listener())

    def report(self, interval):
        self.seq = (self.base or 0) + 1
        if self.base is None:
            return {"host": self.host, "seq": self.seq, "full": True,
                    "agent": {"version": "load", "interval_s": max(1, int(round(interval)))},
                    "ephemeral": {"lo": 32768, "hi": 60999}, "reserved": "",
                    "listeners": list(self.listeners.values()), "findings": []}
        doc = {"host": self.host, "seq": self.seq, "full": False, "base": self.base}
        if self.pending_added or self.pending_removed:
            doc["added"], doc["removed"] = self.pending_added, self.pending_removed
        return doc


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}
        self.latencies = []
        self.bytes = 0
        self.full = self.delta = 0

    def add(self, status, seconds, size, full):
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1
            self.latencies.append(seconds)
            self.bytes += size
            if full:
                self.full += 1
            else:
                self.delta += 1


def send(conn_box, url, agent, doc, stats):
    body = gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), 6)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip",
               "Authorization": "Bearer " + agent.token}
    start = time.monotonic()
    status = 0
    for attempt in range(2):   # a keep-alive connection the server closed: reconnect once
        try:
            if conn_box[0] is None:
                cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
                conn_box[0] = cls(url.hostname, url.port or (443 if url.scheme == "https" else 80), timeout=30)
            conn_box[0].request("POST", url.path.rstrip("/") + PATH, body, headers)
            resp = conn_box[0].getresponse()
            answer = resp.read()
            status = resp.status
            break
        except (OSError, http.client.HTTPException):
            conn_box[0] = None
            status = 0
    stats.add(status, time.monotonic() - start, len(body), doc["full"])
    if status == 200:
        try:
            agent.base = json.loads(answer).get("seq", agent.seq)
        except ValueError:
            agent.base = agent.seq
        agent.pending_added, agent.pending_removed = [], []
    elif status == 409:
        agent.base = None   # a full report next time (it holds every pending change)
        agent.pending_added, agent.pending_removed = [], []


def worker(agents, url, args, stats, start, stop_at):
    conn = [None]
    # each agent's slot in the interval, spread evenly
    slots = [(start + (i / max(len(agents), 1)) * args.interval, a) for i, a in enumerate(agents)]
    while True:
        slots.sort(key=lambda s: s[0])
        due, agent = slots[0]
        if due >= stop_at:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        if agent.base is not None:
            agent.change(args.changes)
        send(conn, url, agent, agent.report(args.interval), stats)
        slots[0] = (due + args.interval, agent)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", required=True)
    p.add_argument("--token")
    p.add_argument("--tokens")
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--sockets", type=int, default=200)
    p.add_argument("--interval", type=float, default=10.0)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--changes", type=int, default=1)
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--host-prefix", default="agent-")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if not args.token and not args.tokens:
        p.error("give --token or --tokens")
    url = urllib.parse.urlsplit(args.server)
    if args.tokens:
        pairs = [line.split() for line in open(args.tokens) if line.strip()][: args.agents]
    else:
        pairs = [("%s%04d" % (args.host_prefix, i), args.token) for i in range(args.agents)]
    rng = random.Random(args.seed)
    agents = [Agent(host, token, args.sockets, random.Random(rng.random())) for host, token in pairs]
    stats = Stats()
    start = time.monotonic() + 0.2
    stop_at = start + args.duration
    threads = [threading.Thread(target=worker, args=(agents[k::args.threads], url, args, stats, start, stop_at))
               for k in range(min(args.threads, len(agents)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = max(time.monotonic() - start, 1e-9)
    lat = sorted(stats.latencies) or [0.0]
    result = {
        "agents": len(agents), "sockets": args.sockets, "interval_s": args.interval, "seconds": round(elapsed, 1),
        "reports": len(stats.latencies), "full": stats.full, "deltas": stats.delta,
        "reports_per_s": round(len(stats.latencies) / elapsed, 1),
        "target_per_s": round(len(agents) / args.interval, 1),
        "status": {str(k): v for k, v in sorted(stats.status.items())},
        "latency_ms": {"p50": round(lat[len(lat) // 2] * 1000, 2), "p99": round(lat[int(len(lat) * 0.99)] * 1000, 2),
                       "max": round(lat[-1] * 1000, 2)},
        "sent_bytes": stats.bytes,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print("%(agents)d agents x %(sockets)d sockets, every %(interval_s)gs for %(seconds)gs: "
              "%(reports)d reports (%(full)d full, %(deltas)d deltas), %(reports_per_s)g reports/s "
              "(target %(target_per_s)g)" % result)
        print("answers: %s; latency p50 %s ms, p99 %s ms, max %s ms; %d bytes sent (gzip)" % (
            ", ".join("%s: %d" % kv for kv in result["status"].items()), result["latency_ms"]["p50"],
            result["latency_ms"]["p99"], result["latency_ms"]["max"], stats.bytes))
    ok = all(k in (200, 201, 409) for k in stats.status)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
