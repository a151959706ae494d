#!/usr/bin/env bash
# Starts a real Celery worker (both queues) and the web server for the demo; stopping one stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p var/log
$PY -m celery -A config worker --beat -Q default,ml --concurrency 2 --loglevel INFO >var/log/worker.log 2>&1 &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true; wait $WORKER_PID 2>/dev/null || true' EXIT INT TERM
echo "Celery worker started (pid $WORKER_PID, log var/log/worker.log)."
echo "Web server on http://127.0.0.1:8000/ (Ctrl-C stops both)."
$PY manage.py runserver 127.0.0.1:8000 --noreload
