"""Settings for the Dockyard sample project, all read from the environment.

DJANGO_DEBUG                    false   1/true/yes/on or 0/false/no/off; anything else is an error
DJANGO_SECRET_KEY               -       required unless DEBUG is on or under ``manage.py test``
DJANGO_ALLOWED_HOSTS            ""      comma-separated; localhost and 127.0.0.1 are always added
DJANGO_CSRF_TRUSTED_ORIGINS     ""      comma-separated, with scheme (https://example.com)
DATABASE_URL                    sqlite:///db.sqlite3 (BASE_DIR/db.sqlite3); or postgres://...
DJANGO_CONN_MAX_AGE             60
CACHE_URL                       locmem://; or redis://host:6379/0
DJANGO_SECURE_SSL_REDIRECT      true    /health/... is always exempt
DJANGO_SECURE_HSTS_SECONDS      60
DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS  true
DJANGO_SECURE_HSTS_PRELOAD      true
DJANGO_LOG_LEVEL                INFO
"""

import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from sample.env import env_bool, env_int, env_list, parse_cache_url, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

# True under ``manage.py test``: collectstatic has not run and no real secret exists.
TESTING = "test" in sys.argv

# --- Core ------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set the DJANGO_SECRET_KEY environment "
            "variable to a long random value (or set DJANGO_DEBUG=1 for local development)."
        )

# localhost/127.0.0.1 are always allowed: the image HEALTHCHECK probes 127.0.0.1.
ALLOWED_HOSTS = list(
    dict.fromkeys(env_list("DJANGO_ALLOWED_HOSTS") + ["localhost", "127.0.0.1"])
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sample.urls"
WSGI_APPLICATION = "sample.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
            ],
        },
    },
]

# --- Database / cache --------------------------------------------------------

# Default: sqlite:///db.sqlite3, i.e. BASE_DIR/db.sqlite3.
DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL") or "sqlite:///db.sqlite3",
        base_dir=BASE_DIR,
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": parse_cache_url(os.environ.get("CACHE_URL") or "locmem://")}

# --- Security (HTTPS is terminated in front of us; nginx sets X-Forwarded-Proto) --

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health probes speak plain HTTP from inside the container/network.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# --- I18N --------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------
# collectstatic writes hashed (+ .gz) files to STATIC_ROOT; nginx serves them.
# The build tool reads the collected tree from this fixed path.

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Logging: everything to the console (stderr), level from DJANGO_LOG_LEVEL --

LOG_LEVEL = (os.environ.get("DJANGO_LOG_LEVEL") or "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Let Django's loggers propagate to root instead of using Django's own
    # DEBUG-only console handler (avoids duplicate lines).
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
    },
}
