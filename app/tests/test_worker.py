from io import StringIO

from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import TestCase

from notes.management.commands.notes_worker import HEARTBEAT_KEY


class NotesWorkerTests(TestCase):
    def setUp(self):
        cache.delete(HEARTBEAT_KEY)

    def test_check_fails_without_a_heartbeat(self):
        with self.assertRaisesMessage(CommandError, "no heartbeat"):
            call_command("notes_worker", "--check")

    def test_a_heartbeat_makes_the_check_pass(self):
        out = StringIO()
        call_command("notes_worker", "--iterations", "1", stdout=out)
        self.assertIn("worker stopped after 1 heartbeat(s)", out.getvalue())
        check = StringIO()
        call_command("notes_worker", "--check", stdout=check)
        self.assertIn("note(s)", check.getvalue())

    def test_an_old_heartbeat_fails_the_check(self):
        call_command("notes_worker", "--iterations", "1", stdout=StringIO())
        with self.assertRaisesMessage(CommandError, "s old"):
            call_command("notes_worker", "--check", "--max-age", "-1")
