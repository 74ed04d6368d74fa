"""Gunicorn settings for the container (pinned gunicorn: see requirements.txt).

Start with plain ``gunicorn`` (wsgi_app below) or ``gunicorn sample.wsgi:application``.
"""

import os

wsgi_app = "sample.wsgi:application"

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# Worker heartbeat files live on tmpfs: no blocking on overlayfs, and the
# container can run with a read-only root filesystem.
worker_tmp_dir = "/dev/shm"

# Logs to stdout/stderr.
accesslog = "-"
errorlog = "-"

# TERM -> graceful shutdown; keep below the orchestrator's stop timeout.
graceful_timeout = 20
timeout = 30

# Only trust X-Forwarded-* from these addresses (the nginx container/network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Gunicorn >= 25.1 opens a control socket under $XDG_RUNTIME_DIR or
# $HOME/.gunicorn by default; on a read-only root (or a /nonexistent home)
# that only produces a warning. We don't use gunicornc, so switch it off.
control_socket_disable = True
