"""Runs a command on a pseudo-terminal and answers its prompts, like a person would.

usage: pty_drive.py '["cmd", "arg"]' '["answer 1", "answer 2"]'
A prompt is output ending in "> " or "[y/N] "; each gets the next answer. Prints
{"code": EXIT, "output": TEXT} as JSON when the command ends (or after 60 s).
"""
import json
import os
import pty
import select
import sys
import time

cmd = json.loads(sys.argv[1])
answers = json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(cmd[0], cmd, os.environ)
out = b""
since = b""
deadline = time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
        since += data
    if answers and (since.endswith(b"> ") or since.endswith(b"[y/N] ")):
        os.write(fd, answers.pop(0).encode() + b"\n")
        since = b""
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": out.decode(errors="replace")}))
