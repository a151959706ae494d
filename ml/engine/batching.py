"""Micro-batching of concurrent requests: many threads (chat sessions) submit one request each, and one
background thread decodes whatever arrived within a short window in a single batched ``generate`` call."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from .generation import GenerationRequest, GenerationResult, TextGenerator


class RequestBatcher:
    def __init__(self, generator: TextGenerator, *, max_batch_size: int = 16, max_wait_s: float = 0.02):
        self.generator = generator
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[GenerationRequest, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="request-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest) -> Future[GenerationResult]:
        future: Future = Future()
        self._queue.put((request, future))
        return future

    def generate(self, request: GenerationRequest, timeout: float | None = None) -> GenerationResult:
        """Blocking convenience: submit and wait for this request's result."""
        return self.submit(request).result(timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, closing = [first], False
            try:
                while len(batch) < self.max_batch_size:
                    item = self._queue.get(timeout=self.max_wait_s)
                    if item is None:
                        closing = True
                        break
                    batch.append(item)
            except queue.Empty:
                pass
            live = [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]
            try:
                results = self.generator.generate([r for r, _ in live]) if live else []
            except Exception as exc:  # noqa: BLE001 (every waiter learns why its batch failed)
                for _, future in live:
                    future.set_exception(exc)
            else:
                for (_, future), result in zip(live, results):
                    future.set_result(result)
            if closing:
                return
