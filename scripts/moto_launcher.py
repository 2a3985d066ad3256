#!/usr/bin/env python3
"""Runs moto's AWS emulator on 127.0.0.1:PORT until stdin closes.

Tests and the demo start it with a pipe on stdin: when their process ends, for whatever reason,
the pipe closes and the emulator goes with it, so no server is ever left behind.
Prints "ready PORT" once the server answers.
"""
import os
import sys
import threading
import urllib.request


def main() -> None:
    port = int(sys.argv[1])
    quiet = "--quiet" in sys.argv
    # Real AWS has its managed policies (arn:aws:iam::aws:policy/...); moto loads them on request.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=not quiet)
    server.start()
    # Wait until it answers, then tell the parent.
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            break
        except Exception:  # noqa: BLE001 - any failure means "not up yet"
            threading.Event().wait(0.05)
    print(f"ready {port}", flush=True)
    try:
        while sys.stdin.read(1):
            pass
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()
