import importlib
from io import StringIO
from types import SimpleNamespace

from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase, override_settings

from notes.models import Note

seed_migration = importlib.import_module("notes.migrations.0002_seed_welcome_note")


class IndexTests(TestCase):
    def test_index_renders_notes_and_static_urls(self):
        response = self.client.get("/", secure=True)
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "notes/index.html")
        self.assertContains(response, seed_migration.WELCOME_TITLE)
        self.assertContains(response, 'href="/static/notes/app.css"')
        self.assertContains(response, 'src="/static/notes/logo.svg"')

    # Pinned: the builder runs the tests with deploy.toml's [app.env], which may turn the redirect off.
    @override_settings(SECURE_SSL_REDIRECT=True)
    def test_index_redirects_plain_http_to_https(self):
        response = self.client.get("/")
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response["Location"].startswith("https://"))

    def test_forwarded_proto_https_is_trusted(self):
        response = self.client.get("/", headers={"x-forwarded-proto": "https"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("max-age=60", response["Strict-Transport-Security"])
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")


class MigrationTests(TestCase):
    def test_data_migration_seeded_welcome_note(self):
        note = Note.objects.get(title=seed_migration.WELCOME_TITLE)
        self.assertTrue(note.body)
        self.assertIsNotNone(note.created)

    def test_data_migration_is_reversible(self):
        schema_editor = SimpleNamespace(connection=connection)
        seed_migration.remove_welcome_note(django_apps, schema_editor)
        self.assertFalse(Note.objects.filter(title=seed_migration.WELCOME_TITLE).exists())
        seed_migration.seed_welcome_note(django_apps, schema_editor)
        seed_migration.seed_welcome_note(django_apps, schema_editor)
        self.assertEqual(Note.objects.filter(title=seed_migration.WELCOME_TITLE).count(), 1)

    def test_no_missing_migrations(self):
        out = StringIO()
        try:
            call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
        except SystemExit:
            self.fail(f"makemigrations --check found model changes:\n{out.getvalue()}")

    def test_all_migrations_applied(self):
        try:
            call_command("migrate", "--check", verbosity=0)
        except SystemExit:
            self.fail("migrate --check reports unapplied migrations")


class SeedNotesCommandTests(TestCase):
    def seed(self, *args):
        out = StringIO()
        call_command("seed_notes", *args, stdout=out)
        return out.getvalue().strip()

    def test_seed_notes_is_idempotent(self):
        before = Note.objects.count()  # the welcome note from the data migration
        self.assertEqual(self.seed("--count", "3"), "Created 3 note(s).")
        self.assertEqual(self.seed("--count", "3"), "Created 0 note(s).")
        self.assertEqual(Note.objects.count(), before + 3)
        self.assertEqual(self.seed("--count", "5"), "Created 2 note(s).")
        self.assertEqual(Note.objects.count(), before + 5)

    def test_seed_notes_default_count(self):
        self.assertEqual(self.seed(), "Created 3 note(s).")

    def test_seed_notes_rejects_negative_count(self):
        with self.assertRaises(CommandError):
            self.seed("--count", "-1")
