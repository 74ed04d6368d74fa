from django.core.management.base import BaseCommand, CommandError

from notes.models import Note


class Command(BaseCommand):
    help = (
        'Ensure the sample notes "Sample note 1" .. "Sample note N" exist. '
        "Idempotent: only missing notes are created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=3, help="number of sample notes (default 3)")

    def handle(self, *args, count, **options):
        if count < 0:
            raise CommandError("--count must be zero or more")
        created = 0
        for i in range(1, count + 1):
            _, was_created = Note.objects.get_or_create(
                title=f"Sample note {i}",
                defaults={"body": f"Sample note number {i}, created by manage.py seed_notes."},
            )
            created += was_created
        self.stdout.write(f"Created {created} note(s).")
