#!/usr/bin/env bash
# `make demo`: prepares the demo (database, base models, demo merchant and logins, chat, customers, a generated campaign),
# starts real Celery workers (default+ml, and chat) and the web server, and once the server answers prints the
# logins, the API key and the URL again, below everything else. Ctrl-C stops the server and both workers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=127.0.0.1
PORT=8000
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
# Model-loading progress bars (huggingface_hub, transformers) and transformers' advisory warnings are noise in
# the terminal that has to show the logins; the workers' logs are in var/log either way.
export HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error TRANSFORMERS_NO_ADVISORY_WARNINGS=1
# Django's "this is a development server" banner: the demo is exactly that.
export DJANGO_RUNSERVER_HIDE_WARNING=true
mkdir -p var/log

step() { printf '\n== %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

if port_open; then
    echo "Port $PORT on $HOST is already in use (a demo still running?). Stop it, then run make demo again." >&2
    exit 1
fi

step "Database"
$PY manage.py migrate --noinput --verbosity 0
echo "Migrations applied."
step "Base models"
$PY manage.py ml_provision
step "Demo merchant, logins and API key"
# Kept to print again at the end: the API key is stored hashed and shown nowhere else.
SETUP_REPORT="$($PY manage.py demo_setup)"
echo "$SETUP_REPORT"
step "Chat knowledge and widget"
$PY manage.py demo_chat
step "Demo customers (500 made-up shoppers, four months of events, their profiles and segments)"
$PY manage.py demo_customers
step "Demo campaign (the local model writes the copy on the CPU: about a minute)"
$PY manage.py demo_campaign

step "Starting the workers and the web server"
# Two prefork processes share two cores: one torch thread each, so they do not fight over the cores.
TORCH_NUM_THREADS=1 $PY -m celery -A config worker --beat -Q default,ml --concurrency 2 --loglevel INFO \
    >var/log/worker.log 2>&1 &
WORKER_PID=$!
# Shopper chat replies: a threads pool, so concurrent conversations are decoded together in one batch.
$PY -m celery -A config worker -Q chat --pool threads --concurrency 8 -n chat@%h --loglevel INFO \
    >var/log/chat-worker.log 2>&1 &
CHAT_PID=$!
echo "Celery workers started (pids $WORKER_PID, $CHAT_PID; logs var/log/worker.log, var/log/chat-worker.log)."

# Once the server accepts connections, repeat what the user needs, so it is the last thing on the screen.
(
    until port_open; do sleep 0.5; done
    echo
    echo "================================================================================"
    echo "$SETUP_REPORT" | sed -n '/^Storyfront demo is ready/,$p'
    echo "  Chat inbox: http://$HOST:$PORT/chat/    Demo store: http://$HOST:$PORT/demo/store/"
    echo
    echo "Storyfront is running on http://$HOST:$PORT/  (Ctrl-C stops the server and both workers)"
    echo "================================================================================"
) &
ANNOUNCE_PID=$!

stop() {
    kill "$ANNOUNCE_PID" "$WORKER_PID" "$CHAT_PID" 2>/dev/null || true
    wait "$WORKER_PID" "$CHAT_PID" 2>/dev/null || true
}
trap stop EXIT INT TERM
$PY manage.py runserver "$HOST:$PORT" --noreload
