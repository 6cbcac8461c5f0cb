#!/usr/bin/env python3
"""remote_fake_server.py — a small HTTP(S) server on loopback that answers as portreg serve's
routes of the API contract that a test needs to control: import (200 with created counts and
warnings, 422 with diagnostics, 415 for a wrong content type), exports (text), an empty list
of assignments (to see the query the client sends), a 500 with a
request id, texts with terminal escapes, a redirect. The path prefix of --server picks the
behaviour (http://127.0.0.1:PORT/boom/...). Used by tests/e2e/remote.bats to test the client's
handling of answers the real server in this tree does not give (yet), and TLS with a test CA.

usage: remote_fake_server.py PORT_FILE LOG_FILE [CERT KEY]
Writes the port it listens on into PORT_FILE; one JSON line per request into LOG_FILE."""
import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", "fake-42")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps({
                "method": self.command, "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "authorization": self.headers.get("Authorization"),
                "idempotency_key": self.headers.get("Idempotency-Key"),
                "body": body.decode("utf-8", "replace"),
            }) + "\n")

    def route(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.record(body)
        path = self.path
        if path.startswith("/boom/"):
            return self.answer(500, {"error": {"code": "internal", "message": "disk on fire \u001b[2J", "field": None}})
        if path.startswith("/redirect/"):
            return self.answer(302, b"", "text/plain", [("Location", "http://127.0.0.1:1/elsewhere")])
        if path.startswith("/evil/api/v1/hosts"):
            return self.answer(200, {"items": [{"id": 1, "name": "db\u001b[31mred", "addresses": {"a\tb": "10.0.0.1"}}],
                                     "next_after": None})
        if path.startswith("/evil/api/v1/requests"):
            return self.answer(409, {"error": {"code": "port-taken", "message": "taken \u001b]0;title\u0007",
                                               "field": "port",
                                               "conflict": {"id": 9, "service": "x\u001b[2Jy", "host": "h",
                                                            "proto": "tcp", "port_lo": 80, "port_hi": 80,
                                                            "state": "active"}}})
        if path.startswith("/api/v1/import"):
            if self.command != "POST":
                return self.answer(405, {"error": {"code": "method-not-allowed", "message": "no", "field": None}})
            if (self.headers.get("Content-Type") or "") != "application/yaml":
                return self.answer(415, {"error": {"code": "unsupported-media-type", "message": "send YAML",
                                                   "field": None}})
            if b"broken" in body:
                return self.answer(422, {
                    "error": {"code": "plan-invalid", "message": "the plan has 1 error", "field": None},
                    "diagnostics": [{"file": None, "line": 3, "column": 11, "path": "services[0].port",
                                     "severity": "error", "message": "port must be 1-65535"}]})
            return self.answer(200, {
                "created": {"hosts": 1, "services": 2},
                "diagnostics": [{"file": "plan.yaml", "line": 5, "column": 3, "path": "services[1]",
                                 "severity": "warning", "message": "IANA assigns 8080 to http-alt"}]})
        if path == "/api/v1/exports/services":
            return self.answer(200, b"orders-db\t5432/tcp\nbilling\t7100/tcp\n", "text/plain; charset=utf-8")
        if path.startswith("/api/v1/assignments?"):
            return self.answer(200, {"items": [], "next_after": None})
        if path == "/api/v1/policy":
            return self.answer(200, {"ephemeral": "32768-60999", "excluded": ["8000-8099"], "quarantine_days": 30})
        return self.answer(404, {"error": {"code": "not-found", "message": "no such route (see docs/API.md)",
                                           "field": None}})

    do_GET = route
    do_POST = route


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 4:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.timeout = 1
    # bounded: a test server that nobody stops ends by itself after 5 minutes
    import time
    deadline = time.time() + 300
    while time.time() < deadline:
        server.handle_request()


if __name__ == "__main__":
    main()
