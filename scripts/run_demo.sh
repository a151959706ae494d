#!/usr/bin/env bash
# Starts real Celery workers (default+ml, and chat) and the web server for the demo; stopping one stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p var/log
# Two prefork processes share two cores: one torch thread each, so they do not fight over the cores.
TORCH_NUM_THREADS=1 $PY -m celery -A config worker --beat -Q default,ml --concurrency 2 --loglevel INFO >var/log/worker.log 2>&1 &
WORKER_PID=$!
# Shopper chat replies: a threads pool, so concurrent conversations are decoded together in one batch.
$PY -m celery -A config worker -Q chat --pool threads --concurrency 8 -n chat@%h --loglevel INFO >var/log/chat-worker.log 2>&1 &
CHAT_PID=$!
trap 'kill $WORKER_PID $CHAT_PID 2>/dev/null || true; wait $WORKER_PID $CHAT_PID 2>/dev/null || true' EXIT INT TERM
echo "Celery workers started (pids $WORKER_PID, $CHAT_PID; logs var/log/worker.log, var/log/chat-worker.log)."
echo "Web server on http://127.0.0.1:8000/ (Ctrl-C stops both)."
$PY manage.py runserver 127.0.0.1:8000 --noreload
