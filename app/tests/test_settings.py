import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase

from sample.env import env_bool, env_int, env_list, parse_cache_url, parse_database_url

BASE_DIR = Path(settings.BASE_DIR)

# Reads settings without django.setup(): with a postgres DATABASE_URL, setup()
# would import the (not installed) psycopg driver while building models.
DUMP_SETTINGS = """
import json
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "DEBUG": s.DEBUG,
    "SECRET_KEY": s.SECRET_KEY,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
    "DB": {k: db.get(k) for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "CONN_MAX_AGE")},
    "CACHE": s.CACHES["default"],
    "STATICFILES_BACKEND": s.STORAGES["staticfiles"]["BACKEND"],
    "STATIC_URL": s.STATIC_URL,
    "STATIC_ROOT": str(s.STATIC_ROOT),
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_REDIRECT_EXEMPT": s.SECURE_REDIRECT_EXEMPT,
    "SECURE_PROXY_SSL_HEADER": list(s.SECURE_PROXY_SSL_HEADER),
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "LOG_LEVEL": s.LOGGING["root"]["level"],
}))
"""


def run_python(args, **env):
    """Run the venv's python in app/ with a clean environment plus ``env``."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "sample.settings",
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump_settings(**env):
    result = run_python(["-c", DUMP_SETTINGS], **env)
    if result.returncode != 0:
        raise AssertionError(f"settings failed to load:\n{result.stderr}")
    return json.loads(result.stdout)


class SecretKeyGuardTests(SimpleTestCase):
    def test_production_refuses_to_start_without_secret_key(self):
        result = run_python(["manage.py", "check"])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ImproperlyConfigured", result.stderr)
        self.assertIn("Set the DJANGO_SECRET_KEY environment variable", result.stderr)

    def test_debug_off_explicitly_still_requires_key(self):
        result = run_python(["manage.py", "check"], DJANGO_DEBUG="false")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_SECRET_KEY", result.stderr)

    def test_production_starts_with_secret_key(self):
        result = run_python(["manage.py", "check"], DJANGO_SECRET_KEY="x" * 60)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_debug_falls_back_to_insecure_dev_key(self):
        values = dump_settings(DJANGO_DEBUG="On")
        self.assertTrue(values["DEBUG"])
        self.assertTrue(values["SECRET_KEY"].startswith("django-insecure-"))
        self.assertFalse(values["SESSION_COOKIE_SECURE"])

    def test_invalid_boolean_is_rejected(self):
        result = run_python(["manage.py", "check"], DJANGO_DEBUG="maybe", DJANGO_SECRET_KEY="x" * 60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_DEBUG", result.stderr)

    def test_deploy_checks_pass_with_production_defaults(self):
        result = run_python(
            ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


class SettingsContractTests(SimpleTestCase):
    def test_production_defaults(self):
        values = dump_settings(DJANGO_SECRET_KEY="k" * 60)
        self.assertFalse(values["DEBUG"])
        self.assertEqual(values["ALLOWED_HOSTS"], ["localhost", "127.0.0.1"])
        self.assertEqual(values["CSRF_TRUSTED_ORIGINS"], [])
        self.assertEqual(values["DB"]["ENGINE"], "django.db.backends.sqlite3")
        self.assertEqual(values["DB"]["NAME"], str(BASE_DIR / "db.sqlite3"))
        self.assertEqual(values["DB"]["CONN_MAX_AGE"], 60)
        self.assertEqual(values["CACHE"]["BACKEND"], "django.core.cache.backends.locmem.LocMemCache")
        self.assertEqual(
            values["STATICFILES_BACKEND"], "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
        self.assertEqual(values["STATIC_URL"], "/static/")
        self.assertEqual(values["STATIC_ROOT"], str(BASE_DIR / "staticfiles"))
        self.assertTrue(values["SECURE_SSL_REDIRECT"])
        self.assertEqual(values["SECURE_REDIRECT_EXEMPT"], [r"^health/"])
        self.assertEqual(values["SECURE_PROXY_SSL_HEADER"], ["HTTP_X_FORWARDED_PROTO", "https"])
        self.assertEqual(values["SECURE_HSTS_SECONDS"], 60)
        self.assertTrue(values["SESSION_COOKIE_SECURE"])
        self.assertTrue(values["CSRF_COOKIE_SECURE"])
        self.assertEqual(values["LOG_LEVEL"], "INFO")

    def test_environment_overrides(self):
        values = dump_settings(
            DJANGO_SECRET_KEY="k" * 60,
            DJANGO_ALLOWED_HOSTS=" example.com, app ,,localhost",
            DJANGO_CSRF_TRUSTED_ORIGINS="https://example.com,https://*.example.org",
            DATABASE_URL="postgres://dock:s%40cret@db:5432/notes",
            DJANGO_CONN_MAX_AGE="0",
            CACHE_URL="redis://cache:6379/1",
            DJANGO_SECURE_SSL_REDIRECT="FALSE",
            DJANGO_SECURE_HSTS_SECONDS="3600",
            DJANGO_LOG_LEVEL="warning",
        )
        self.assertEqual(values["ALLOWED_HOSTS"], ["example.com", "app", "localhost", "127.0.0.1"])
        self.assertEqual(
            values["CSRF_TRUSTED_ORIGINS"], ["https://example.com", "https://*.example.org"]
        )
        self.assertEqual(
            values["DB"],
            {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "notes",
                "USER": "dock",
                "PASSWORD": "s@cret",
                "HOST": "db",
                "PORT": "5432",
                "CONN_MAX_AGE": 0,
            },
        )
        self.assertEqual(
            values["CACHE"],
            {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://cache:6379/1",
            },
        )
        self.assertFalse(values["SECURE_SSL_REDIRECT"])
        self.assertEqual(values["SECURE_HSTS_SECONDS"], 3600)
        self.assertEqual(values["LOG_LEVEL"], "WARNING")

    def test_unknown_database_scheme_fails_startup(self):
        result = run_python(
            ["manage.py", "check"], DJANGO_SECRET_KEY="k" * 60, DATABASE_URL="mysql://u:p@h/db"
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("'mysql'", result.stderr)

    def test_test_runs_use_plain_static_storage(self):
        # This process runs under "manage.py test": no collectstatic, no manifest.
        self.assertEqual(
            settings.STORAGES["staticfiles"]["BACKEND"],
            "django.contrib.staticfiles.storage.StaticFilesStorage",
        )


class DatabaseUrlTests(SimpleTestCase):
    def test_sqlite_absolute(self):
        config = parse_database_url("sqlite:////tmp/s.sqlite3", base_dir="/app", conn_max_age=60)
        self.assertEqual(config["ENGINE"], "django.db.backends.sqlite3")
        self.assertEqual(config["NAME"], "/tmp/s.sqlite3")
        self.assertEqual(config["CONN_MAX_AGE"], 60)

    def test_sqlite_relative_is_under_base_dir(self):
        config = parse_database_url("sqlite:///data/db.sqlite3", base_dir="/app")
        self.assertEqual(config["NAME"], "/app/data/db.sqlite3")

    def test_sqlite_memory(self):
        self.assertEqual(parse_database_url("sqlite://:memory:", base_dir="/app")["NAME"], ":memory:")
        self.assertEqual(parse_database_url("sqlite://", base_dir="/app")["NAME"], ":memory:")

    def test_postgres(self):
        config = parse_database_url(
            "postgres://user:p%3Ass@db.internal:6543/app_db?sslmode=require",
            base_dir="/app",
            conn_max_age=30,
        )
        self.assertEqual(config["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual(config["NAME"], "app_db")
        self.assertEqual(config["USER"], "user")
        self.assertEqual(config["PASSWORD"], "p:ss")
        self.assertEqual(config["HOST"], "db.internal")
        self.assertEqual(config["PORT"], "6543")
        self.assertEqual(config["CONN_MAX_AGE"], 30)
        self.assertEqual(config["OPTIONS"], {"sslmode": "require"})

    def test_postgresql_scheme_without_port(self):
        config = parse_database_url("postgresql://u@db/name", base_dir="/app")
        self.assertEqual(config["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual((config["HOST"], config["PORT"], config["PASSWORD"]), ("db", "", ""))
        self.assertNotIn("OPTIONS", config)

    def test_postgres_requires_database_name(self):
        with self.assertRaises(ImproperlyConfigured):
            parse_database_url("postgres://u:p@db:5432/", base_dir="/app")

    def test_unknown_scheme_names_the_scheme(self):
        with self.assertRaisesMessage(ImproperlyConfigured, "'mysql'"):
            parse_database_url("mysql://u:p@db/name", base_dir="/app")

    def test_not_a_url(self):
        with self.assertRaises(ImproperlyConfigured):
            parse_database_url("/tmp/db.sqlite3", base_dir="/app")


class CacheUrlTests(SimpleTestCase):
    def test_locmem(self):
        self.assertEqual(
            parse_cache_url("locmem://")["BACKEND"], "django.core.cache.backends.locmem.LocMemCache"
        )

    def test_redis(self):
        config = parse_cache_url("redis://:pw@redis:6379/0")
        self.assertEqual(config["BACKEND"], "django.core.cache.backends.redis.RedisCache")
        self.assertEqual(config["LOCATION"], "redis://:pw@redis:6379/0")

    def test_unknown_scheme_names_the_scheme(self):
        with self.assertRaisesMessage(ImproperlyConfigured, "'memcached'"):
            parse_cache_url("memcached://cache:11211")


class EnvHelperTests(SimpleTestCase):
    def test_env_bool(self):
        for raw in ("1", "true", "TRUE", "Yes", "on", " On "):
            self.assertIs(env_bool("X", environ={"X": raw}), True, raw)
        for raw in ("0", "false", "No", "OFF", ""):
            self.assertIs(env_bool("X", environ={"X": raw}, default=True), False, raw)
        self.assertIs(env_bool("X", environ={}, default=True), True)
        with self.assertRaisesMessage(ImproperlyConfigured, "X="):
            env_bool("X", environ={"X": "ture"})

    def test_env_int(self):
        self.assertEqual(env_int("X", 60, environ={}), 60)
        self.assertEqual(env_int("X", 60, environ={"X": " 5 "}), 5)
        with self.assertRaises(ImproperlyConfigured):
            env_int("X", 60, environ={"X": "sixty"})

    def test_env_list(self):
        self.assertEqual(env_list("X", environ={"X": " a, b ,,c "}), ["a", "b", "c"])
        self.assertEqual(env_list("X", environ={}), [])
