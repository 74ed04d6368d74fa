"""Health endpoints (no extra dependency).

/health/       readiness: checks the default database and the default cache.
               200 {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}
               503 {"status": "error", "checks": {"database": "<error>", ...}}
/health/live/  liveness: the process answers; touches neither DB nor cache.
               200 {"status": "ok"}

Both are exempt from SECURE_SSL_REDIRECT (see settings.SECURE_REDIRECT_EXEMPT).
"""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    if not row or row[0] != 1:
        raise RuntimeError(f"SELECT 1 returned {row!r}")


def check_cache():
    key = f"health-check:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    cache.set(key, value, timeout=5)
    try:
        got = cache.get(key)
        if got != value:
            raise RuntimeError("cache did not return the value just stored")
    finally:
        cache.delete(key)


CHECKS = (
    ("database", check_database),
    ("cache", check_cache),
)


def run_checks():
    results = {}
    for name, check in CHECKS:
        try:
            check()
        except Exception as exc:  # any failure makes the service unhealthy
            logger.error("health check %r failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = f"{type(exc).__name__}: {exc}"
        else:
            results[name] = OK
    return results


@never_cache
@require_safe
def health(request):
    checks = run_checks()
    healthy = all(result == OK for result in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks},
        status=200 if healthy else 503,
    )


@never_cache
@require_safe
def live(request):
    return JsonResponse({"status": "ok"})
