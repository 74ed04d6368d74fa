import json
from unittest import mock

from django.core.cache import caches
from django.db import OperationalError, connections
from django.test import TestCase


def cache_class():
    """The configured cache's backend class (LocMemCache by default, RedisCache with CACHE_URL=redis://...)."""
    return type(caches["default"])


class HealthTests(TestCase):
    def test_health_ok(self):
        response = self.client.get("/health/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertEqual(
            json.loads(response.content),
            {"status": "ok", "checks": {"database": "ok", "cache": "ok"}},
        )

    def test_health_is_never_cached(self):
        response = self.client.get("/health/")
        self.assertIn("no-store", response["Cache-Control"])
        self.assertIn("max-age=0", response["Cache-Control"])

    def test_health_is_exempt_from_ssl_redirect(self):
        # Plain HTTP (no X-Forwarded-Proto): probes must not get a 301.
        self.assertEqual(self.client.get("/health/").status_code, 200)
        self.assertEqual(self.client.get("/health/live/").status_code, 200)

    def test_health_head_allowed_post_rejected(self):
        self.assertEqual(self.client.head("/health/").status_code, 200)
        with self.assertLogs("django.request", "WARNING"):
            self.assertEqual(self.client.post("/health/").status_code, 405)

    def test_health_503_when_database_fails(self):
        with mock.patch.object(
            type(connections["default"]),
            "cursor",
            side_effect=OperationalError("simulated database outage"),
        ), self.assertLogs(level="ERROR") as logs:
            response = self.client.get("/health/")
        self.assertEqual(response.status_code, 503)
        body = json.loads(response.content)
        self.assertEqual(body["status"], "error")
        self.assertEqual(body["checks"]["cache"], "ok")
        self.assertNotEqual(body["checks"]["database"], "ok")
        self.assertIn("simulated database outage", body["checks"]["database"])
        self.assertIn("OperationalError", body["checks"]["database"])
        self.assertTrue(any("database" in line for line in logs.output))

    def test_health_503_when_cache_set_raises(self):
        with mock.patch.object(
            cache_class(), "set", side_effect=ConnectionError("simulated cache outage")
        ), self.assertLogs(level="ERROR"):
            response = self.client.get("/health/")
        self.assertEqual(response.status_code, 503)
        body = json.loads(response.content)
        self.assertEqual(body["status"], "error")
        self.assertEqual(body["checks"]["database"], "ok")
        self.assertIn("simulated cache outage", body["checks"]["cache"])

    def test_health_503_when_cache_loses_value(self):
        with mock.patch.object(cache_class(), "get", return_value=None), self.assertLogs(
            level="ERROR"
        ):
            response = self.client.get("/health/")
        self.assertEqual(response.status_code, 503)
        body = json.loads(response.content)
        self.assertEqual(body["status"], "error")
        self.assertEqual(body["checks"]["database"], "ok")
        self.assertNotEqual(body["checks"]["cache"], "ok")

    def test_live_ok_without_database(self):
        with mock.patch.object(
            type(connections["default"]), "cursor", side_effect=AssertionError("live must not touch the DB")
        ):
            response = self.client.get("/health/live/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(json.loads(response.content), {"status": "ok"})
        self.assertIn("no-store", response["Cache-Control"])
