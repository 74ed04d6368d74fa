import json
import re
import tempfile
from pathlib import Path

from django.core.management import call_command
from django.test import TestCase, override_settings

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
HASHED = re.compile(r"^notes/(app|logo)\.[0-9a-f]{12}\.(css|svg)$")


class ManifestStaticFilesTests(TestCase):
    """Runs collectstatic with the production storage into a temp STATIC_ROOT."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.static_root = Path(tmp.name)
        override = override_settings(STATIC_ROOT=self.static_root, STORAGES=MANIFEST_STORAGES)
        override.enable()
        self.addCleanup(override.disable)
        call_command("collectstatic", interactive=False, verbosity=0)
        manifest = json.loads((self.static_root / "staticfiles.json").read_text())
        self.paths = manifest["paths"]

    def test_files_get_hashed_names(self):
        css, logo = self.paths["notes/app.css"], self.paths["notes/logo.svg"]
        self.assertRegex(css, HASHED)
        self.assertRegex(logo, HASHED)
        self.assertTrue((self.static_root / css).is_file())
        self.assertTrue((self.static_root / logo).is_file())

    def test_css_references_hashed_logo(self):
        css = (self.static_root / self.paths["notes/app.css"]).read_text()
        hashed_logo = Path(self.paths["notes/logo.svg"]).name
        self.assertIn(f'url("{hashed_logo}")', css)

    def test_gzip_variants_written(self):
        for name in ("notes/app.css", "notes/logo.svg"):
            hashed = self.static_root / self.paths[name]
            self.assertTrue(Path(f"{hashed}.gz").is_file(), f"{hashed}.gz missing")

    def test_index_uses_hashed_urls(self):
        response = self.client.get("/", secure=True)
        self.assertContains(response, f'href="/static/{self.paths["notes/app.css"]}"')
        self.assertContains(response, f'src="/static/{self.paths["notes/logo.svg"]}"')
