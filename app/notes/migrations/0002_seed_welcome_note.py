"""Data migration: seed one welcome note (reversible)."""

from django.db import migrations

WELCOME_TITLE = "Welcome to Dockyard"
WELCOME_BODY = (
    "This note was created by the 0002 data migration. If you can read it, "
    "migrations ran against this database and the app can query it."
)


def seed_welcome_note(apps, schema_editor):
    Note = apps.get_model("notes", "Note")
    db_alias = schema_editor.connection.alias
    Note.objects.using(db_alias).get_or_create(
        title=WELCOME_TITLE, defaults={"body": WELCOME_BODY}
    )


def remove_welcome_note(apps, schema_editor):
    Note = apps.get_model("notes", "Note")
    db_alias = schema_editor.connection.alias
    Note.objects.using(db_alias).filter(title=WELCOME_TITLE).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("notes", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed_welcome_note, remove_welcome_note),
    ]
