#!/usr/bin/env python3
"""socket_activate.py — start a command as systemd's socket activation does, without systemd:
listening TCP sockets on loopback ports the kernel picks, moved to fds 3, 4, ... with
LISTEN_FDS, LISTEN_PID (this process's pid, which exec keeps) and LISTEN_FDNAMES set. Used by
tests/e2e/systemd.bats.

usage: socket_activate.py PORT_FILE ADDRESS[,ADDRESS...] COMMAND [ARG...]
Writes one line per socket, "ADDRESS PORT", into PORT_FILE before the exec."""
import os
import socket
import sys


def main():
    port_file, addresses, command = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
    listeners = []
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((address, 0))
        s.listen(128)
        listeners.append(s)
    # out of the way first: a socket may itself be fd 3 or 4 (when the caller closed them)
    high = [os.dup2(s.fileno(), 100 + i) for i, s in enumerate(listeners)]
    lines = []
    for i, s in enumerate(listeners):
        os.dup2(high[i], 3 + i)   # dup2'd fds are inheritable
        os.close(high[i])
        lines.append("%s %d\n" % (addresses[i], s.getsockname()[1]))
    with open(port_file + ".tmp", "w") as f:
        f.writelines(lines)
    os.rename(port_file + ".tmp", port_file)
    os.environ["LISTEN_FDS"] = str(len(listeners))
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDNAMES"] = ":".join("portreg-serve.socket" for _ in listeners)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
