"""Celery app. Three queues: `default` (imports, publishing, webhooks), `ml` (training, batch generation,
embeddings; GPU hosts in production) and `chat` (shopper replies: a threads-pool worker, so concurrent replies
are decoded together in one batch and a long training job never delays a shopper). Tasks take ids, are acks_late and idempotent, so a redelivered task does no harm."""

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("storyfront")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_after_configure.connect
def _configure(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    app = sender

    app.conf.update(
        task_queues=(
            Queue("default", Exchange("default"), routing_key="default"),
            Queue("ml", Exchange("ml"), routing_key="ml"),
            Queue("chat", Exchange("chat"), routing_key="chat"),
        ),
        task_default_queue="default",
        task_default_exchange="default",
        task_default_routing_key="default",
        task_routes={"ml.tasks.*": {"queue": "ml"}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        result_extended=True,
        result_expires=7 * 24 * 3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "requeue-stale-jobs": {
                "task": "ml.tasks.requeue_stale_jobs",
                "schedule": 60.0,
                "options": {"queue": "ml"},
            },
            "publish-scheduled-content": {
                "task": "marketing.tasks.publish_scheduled_content_task",
                "schedule": 60.0,
                "options": {"queue": "default"},
            },
            "requeue-stale-generation-jobs": {
                "task": "marketing.tasks.requeue_stale_generation_jobs",
                "schedule": 60.0,
                "options": {"queue": "ml"},
            },
            "chat-sweep-stale-replies": {
                "task": "chat.tasks.sweep_stale_replies_task",
                "schedule": 60.0,
                "options": {"queue": "chat"},
            },
            "chat-embed-stale-catalogs": {
                "task": "chat.tasks.embed_stale_catalogs_task",
                "schedule": 600.0,
                "options": {"queue": "ml"},
            },
            "copy-learning": {
                "task": "marketing.tasks.copy_learning_sweep_task",
                "schedule": float(settings.COPY_LEARNING_SCHEDULE_SECONDS),
                "options": {"queue": "default"},
            },
            "chat-incremental-finetune": {
                "task": "chat.training_tasks.incremental_finetune_sweep_task",
                "schedule": float(settings.CHAT_INCREMENTAL_FINETUNE_SCHEDULE_SECONDS),
                "options": {"queue": "default"},
            },
            # Profiles: the nightly full rebuild, hourly segment recompute, nightly raw-event retention.
            "profiles-nightly-rebuild": {
                "task": "profiles.tasks.rebuild_profiles_task",
                "schedule": crontab(hour=2, minute=30),
                "options": {"queue": "default"},
            },
            "profiles-recompute-segments": {
                "task": "profiles.tasks.recompute_segments_task",
                "schedule": crontab(minute=15),
                "options": {"queue": "default"},
            },
            "profiles-event-retention": {
                "task": "profiles.tasks.apply_event_retention_task",
                "schedule": crontab(hour=3, minute=45),
                "options": {"queue": "default"},
            },
        },
        beat_schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule"),
    )
    if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
        broker_dir = settings.CELERY_FILESYSTEM_DIR
        for sub in ("out", "processed", "control"):
            (broker_dir / sub).mkdir(parents=True, exist_ok=True)
        app.conf.broker_transport_options = {
            "data_folder_in": str(broker_dir / "out"),
            "data_folder_out": str(broker_dir / "out"),
            "processed_folder": str(broker_dir / "processed"),
            "store_processed": False,
            "control_folder": str(broker_dir / "control"),  # else kombu writes ./control/ in the cwd
        }
    backend = str(settings.CELERY_RESULT_BACKEND)
    if backend.startswith("file://"):
        os.makedirs(backend[len("file://") :], exist_ok=True)


app.autodiscover_tasks()
# chat.training.tasks lives in a sub-package, which autodiscovery (<app>.tasks) does not reach.
app.autodiscover_tasks(["chat.training"])
