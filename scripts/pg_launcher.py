#!/usr/bin/env python3
"""Runs a throwaway PostgreSQL on 127.0.0.1:PORT, in its own temporary folder, until stdin
closes; then stops it and removes the folder.

Tests start it with a pipe on stdin, like moto: when their process ends, for whatever reason,
the server goes too. Prints "ready PORT" once it accepts connections. initdb refuses to run as
root, so as root the cluster belongs to `nobody`. Authentication is `trust` on loopback only:
this server is for tests, never for data.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def as_owner(cmd, root):
    return ["runuser", "-u", "nobody", "--", *cmd] if root else cmd


def main() -> None:
    port = int(sys.argv[1])
    root = os.geteuid() == 0
    base = tempfile.mkdtemp(prefix="gm-pg-")
    data = os.path.join(base, "data")
    if root:
        shutil.chown(base, user="nobody")
    subprocess.run(as_owner(["initdb", "-D", data, "-A", "trust", "-U", "gm", "-E", "UTF8"], root),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = subprocess.Popen(
        as_owner(["postgres", "-D", data, "-p", str(port), "-k", base, "-c", "listen_addresses=127.0.0.1",
                  "-c", "fsync=off", "-c", "synchronous_commit=off"], root),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.2)
        print(f"ready {port}", flush=True)
        while sys.stdin.read(1):
            pass
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
