#!/usr/bin/env python3
"""agent_fake_server.py — a test double of portreg serve's POST /api/v1/observations (the agent
contract, /work/notes/agent-protocol.md and docs/API.md), for tests/e2e/agent.bats while the
real server side is built in parallel. The real-server e2e (three network namespaces as three
hosts, a real `portreg serve`) comes when the s-fleet branch lands; this double stays for the
cases a real server will not give on demand (a 503 burst, a forced 409).

It answers as the contract says: 401 on a bad token, 403 for another host than --host, 409
resync when a delta's base is not the last seq it accepted for the host, 400 on a body that is
not a report, else 200 {"host","seq","listeners"}. It applies full reports and deltas to its
own view of each host, kept in STATE_FILE (so a restart with the same file is a server that
comes back with its data, and a restart with a new file one that lost it).

usage: agent_fake_server.py PORT_FILE LOG_FILE STATE_FILE --token T [--host H] [--port N]
Writes the port it listens on into PORT_FILE; one JSON line per request into LOG_FILE
({"path","encoding","content_type","status","body"}: the body decompressed and parsed).
A file CONTROL next to STATE_FILE (STATE_FILE + ".control") changes the next answers:
"503" (every answer 503 while it is there), "resync" (the next report gets 409, then the
file is removed), "evil" (400 with terminal escapes in the message)."""
import gzip
import http.server
import json
import os
import sys
import threading

LOCK = threading.Lock()


def key(listener):
    return "%s|%s|%s|%s" % (listener["proto"], listener["local_address"], listener["local_port"], listener["netns"])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, record):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        record["status"] = status
        with open(self.server.log_file, "a") as log:
            log.write(json.dumps(record) + "\n")

    def error(self, status, code, message, field, record):
        self.answer(status, {"error": {"code": code, "message": message, "field": field}}, record)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding")
        record = {"path": self.path, "encoding": encoding, "content_type": self.headers.get("Content-Type"),
                  "body": None}
        with LOCK:
            self.handle_report(raw, encoding, record)

    def handle_report(self, raw, encoding, record):
        if self.path != "/api/v1/observations":
            return self.error(404, "not_found", "no such route", "path", record)
        if self.headers.get("Authorization") != "Bearer " + self.server.token:
            return self.error(401, "unauthorized", "missing or invalid token", "token", record)
        try:
            text = gzip.decompress(raw) if encoding == "gzip" else raw
            body = json.loads(text)
        except Exception as e:  # noqa: BLE001 (any bad body is a 400)
            return self.error(400, "bad_body", "not gzip JSON: %s" % e, "body", record)
        record["body"] = body
        control = self.server.state_file + ".control"
        mode = open(control).read().strip() if os.path.exists(control) else ""
        if mode == "evil":
            return self.error(400, "bad_body", "bad\x1b[2J\x07thing", "listeners", record)
        if mode == "503":
            return self.error(503, "unavailable", "the store is not available", None, record)
        host = body.get("host")
        if self.server.host and host != self.server.host:
            return self.error(403, "forbidden", "this token reports for another host", "host", record)
        state = json.load(open(self.server.state_file)) if os.path.exists(self.server.state_file) else {}
        hs = state.get(host)
        if mode == "resync":
            os.unlink(control)
            return self.error(409, "resync", "send a full report", "base", record)
        if body.get("full") is True:
            hs = {"seq": body["seq"], "listeners": {key(l): l for l in body["listeners"]},
                  "ephemeral": body.get("ephemeral"), "reserved": body.get("reserved"),
                  "findings": body.get("findings")}
        else:
            if hs is None or body.get("base") != hs["seq"]:
                return self.error(409, "resync", "base %s is not the last seq %s" %
                                  (body.get("base"), hs and hs["seq"]), "base", record)
            for gone in body.get("removed", []):
                hs["listeners"].pop(key(gone), None)
            for new in body.get("added", []):
                hs["listeners"][key(new)] = new
            for name in ("ephemeral", "reserved", "findings"):
                if name in body:
                    hs[name] = body[name]
            hs["seq"] = body["seq"]
        state[host] = hs
        tmp = self.server.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.server.state_file)
        self.answer(200, {"host": host, "seq": hs["seq"], "listeners": len(hs["listeners"])}, record)


def main():
    args = sys.argv[1:]
    port_file, log_file, state_file = args[0], args[1], args[2]
    opts = dict(zip(args[3::2], args[4::2]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(opts.get("--port", "0"))), Handler)
    server.log_file, server.state_file = log_file, state_file
    server.token, server.host = opts["--token"], opts.get("--host")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
