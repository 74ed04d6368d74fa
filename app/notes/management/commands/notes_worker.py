"""A small background worker, run beside the web server as its own process.

Every ``--interval`` seconds it counts the notes and records a heartbeat in the cache; it stops cleanly on SIGTERM.
``--check`` exits 0 when a heartbeat younger than ``--max-age`` seconds is in the cache: with a shared cache (Redis),
another process (a readiness probe) sees it.
"""

import signal
import time

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from notes.models import Note

HEARTBEAT_KEY = "notes-worker:heartbeat"


class Command(BaseCommand):
    help = "Count the notes every few seconds and record a heartbeat in the cache (--check: is one recent?)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit 0 when a recent heartbeat is in the cache")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between heartbeats (default 1)")
        parser.add_argument("--max-age", type=float, default=10.0, help="--check: the oldest heartbeat accepted")
        parser.add_argument("--iterations", type=int, default=0, help="stop after this many heartbeats (0: never)")

    def handle(self, *args, check, interval, max_age, iterations, **options):
        if check:
            beat = cache.get(HEARTBEAT_KEY)
            if beat is None:
                raise CommandError("no heartbeat in the cache: is the worker running, and is the cache shared?")
            age = time.time() - beat["at"]
            if age > max_age:
                raise CommandError(f"the last heartbeat is {age:.1f} s old")
            self.stdout.write(f"heartbeat {age:.1f} s ago, {beat['notes']} note(s)")
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        beats = 0
        while not stopping:
            cache.set(HEARTBEAT_KEY, {"at": time.time(), "notes": Note.objects.count()}, timeout=60)
            beats += 1
            if iterations and beats >= iterations:
                break
            time.sleep(interval)
        self.stdout.write(f"worker stopped after {beats} heartbeat(s)")
