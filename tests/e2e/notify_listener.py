#!/usr/bin/env python3
"""notify_listener.py — the service manager's side of sd_notify: an AF_UNIX datagram socket at
SOCKET_PATH whose messages are appended to LOG_FILE, each followed by a "--" line, until
STOPPING=1 arrives or 60 s pass. Used by tests/e2e/systemd.bats.

usage: notify_listener.py SOCKET_PATH LOG_FILE"""
import socket
import sys


def main():
    path, log = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    with open(log, "a") as out:
        while True:
            try:
                message = s.recv(4096).decode("utf-8", "replace")
            except socket.timeout:
                return
            out.write(message + "\n--\n")
            out.flush()
            if "STOPPING=1" in message.split("\n"):
                return


if __name__ == "__main__":
    main()
