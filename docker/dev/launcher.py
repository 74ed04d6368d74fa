"""PID 1 of `cargo xtask dev`'s app container: runs the server, restarts it when Dockyard signals a synced change.

Dockyard uploads this file with the source (it is never part of an image) and starts the container with the server's
command as the arguments. SIGHUP (sent by Dockyard after each synced change) stops the server and starts it again, at
once rather than after a polling reloader's next look; SIGTERM or SIGINT (Ctrl-C, `docker stop`) stops it and exits.
A server that exits by itself (a syntax error, an import error) is started again at the next change, as Django's
autoreloader does.
"""

import signal
import subprocess
import sys
import time

# How long a server gets to stop after SIGTERM before it is killed.
STOP_GRACE_SECONDS = 2.0

command = sys.argv[1:]
if not command:
    sys.exit("dockyard dev launcher: no server command given")

state = {"restart": False, "stop": False}
child = None


def stop_child():
    if child is not None and child.poll() is None:
        child.terminate()


def on_restart(_signum, _frame):
    state["restart"] = True
    stop_child()


def on_stop(_signum, _frame):
    state["stop"] = True
    stop_child()


signal.signal(signal.SIGHUP, on_restart)
signal.signal(signal.SIGTERM, on_stop)
signal.signal(signal.SIGINT, on_stop)


def wait_for_child():
    """Waits for the server to end; kills it when it outlives a stop request by STOP_GRACE_SECONDS."""
    asked = None
    while True:
        try:
            return child.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            if state["restart"] or state["stop"]:
                asked = asked or time.monotonic()
                if time.monotonic() - asked > STOP_GRACE_SECONDS:
                    child.kill()


while not state["stop"]:
    state["restart"] = False
    child = subprocess.Popen(command)
    code = wait_for_child()
    if state["stop"]:
        break
    if not state["restart"]:
        print(
            f"dockyard dev: the server exited with code {code}; it starts again at the next change",
            flush=True,
        )
        while not state["restart"] and not state["stop"]:
            time.sleep(0.02)
sys.exit(0)
