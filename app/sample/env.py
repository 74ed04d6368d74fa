"""Small, dependency-free helpers for reading settings from the environment.

Kept separate from ``settings.py`` so the parsers can be unit-tested without
re-importing the settings module.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default=False, environ=None):
    """Read a boolean: 1/true/yes/on or 0/false/no/off (case-insensitive)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/true/yes/on or 0/false/no/off."
    )


def env_int(name, default, environ=None):
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_list(name, environ=None):
    """Read a comma-separated list, dropping blanks and surrounding spaces."""
    environ = os.environ if environ is None else environ
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def parse_database_url(url, base_dir, conn_max_age=60):
    """Turn a DATABASE_URL into a Django ``DATABASES`` entry.

    Supported:
      sqlite:////abs/path.sqlite3   absolute path (four slashes)
      sqlite:///relative.sqlite3    path relative to ``base_dir``
      sqlite://:memory:             in-memory database
      postgres://user:pass@host:port/name?sslmode=require
      (``postgresql://`` is accepted too)
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ImproperlyConfigured(f"DATABASE_URL {url!r} is not a URL (expected scheme://...).")
    scheme = scheme.lower()

    if scheme == "sqlite":
        rest = url[len("sqlite://") :]
        if rest in ("", ":memory:", "/:memory:"):
            name = ":memory:"
        else:
            if not rest.startswith("/"):
                raise ImproperlyConfigured(
                    "DATABASE_URL for sqlite must look like sqlite:////abs/path.sqlite3 "
                    "or sqlite:///relative/path.sqlite3."
                )
            path = unquote(rest[1:].split("?", 1)[0])
            name = str(Path(path) if path.startswith("/") else Path(base_dir) / path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": True,
        }

    if scheme in ("postgres", "postgresql"):
        parts = urlsplit(url)
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL for postgres must name a database: postgres://user:pass@host:port/name")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL has an invalid port.") from None
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port) if port else "",
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": True,
        }
        options = dict(parse_qsl(parts.query))
        if options:
            config["OPTIONS"] = options
        return config

    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported; use sqlite:// or postgres://."
    )


def parse_cache_url(url):
    """Turn a CACHE_URL into a Django ``CACHES['default']`` entry.

    Supported: ``locmem://`` (optionally ``locmem://name``) and
    ``redis://...`` / ``rediss://...`` (Django's built-in RedisCache; the
    ``redis`` client package must then be installed).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ImproperlyConfigured(f"CACHE_URL {url!r} is not a URL (expected scheme://...).")
    scheme = scheme.lower()
    if scheme == "locmem":
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": rest or "default",
        }
    if scheme in ("redis", "rediss"):
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
        }
    raise ImproperlyConfigured(
        f"CACHE_URL scheme {scheme!r} is not supported; use locmem:// or redis://."
    )
