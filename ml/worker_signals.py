"""Set-up of Celery worker processes for model work. Connected in MlConfig.ready(); torch is imported only
inside a worker, and only when TORCH_NUM_THREADS asks for a cap, so the web process never loads it."""

import logging

from celery import signals
from django.conf import settings

logger = logging.getLogger(__name__)


@signals.worker_process_init.connect  # each prefork child
@signals.worker_init.connect  # the main process (threads and solo pools run tasks there)
def limit_torch_threads(**kwargs) -> None:
    """TORCH_NUM_THREADS caps the CPU threads torch uses per worker process: N prefork processes each
    starting one OpenMP thread per core would oversubscribe the machine."""
    threads = settings.TORCH_NUM_THREADS
    if threads:
        import torch

        torch.set_num_threads(threads)
        logger.info("torch limited to %s thread(s) in this worker process", threads)
