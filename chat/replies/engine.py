"""The model side of bot replies in a `chat` worker: sampling parameters, one `ReplyEngine` per model version in
the process (streaming when idle, else the shared `RequestBatcher`), and the embedder. Imported by workers only
(it reaches torch through ml.engine)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from ml.engine import GenerationRequest, RequestBatcher
from ml.models import ModelVersion

SAMPLING = {
    "temperature": 0.3,
    "top_p": 0.9,
    "top_k": 40,
    "repetition_penalty": 1.1,
    "no_repeat_ngram_size": 0,
}


def _setting(name: str, default):
    return getattr(settings, name, default)


def sampling_params() -> dict:
    return {**SAMPLING, "max_new_tokens": _setting("CHAT_REPLY_MAX_NEW_TOKENS", 160)}


# --- shared model access -----------------------------------------------------------------------------------


@dataclass
class Generated:
    text: str
    mode: str  # "stream" or "batch"
    ttft_s: float
    seconds: float
    tokens: int | None
    batch_size: int
    finished: bool = True  # False when the model stopped at its token limit


class _BatchSizeRecorder:
    """Wraps a generator so each request learns how many requests its batch decoded together."""

    def __init__(self, inner):
        self.inner = inner
        self.sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def generate(self, requests):
        results = self.inner.generate(requests)
        with self._lock:
            for request in requests:
                self.sizes[request.request_id] = len(requests)
        return results

    def stream(self, request):
        return self.inner.stream(request)

    def pop(self, request_id: str) -> int:
        with self._lock:
            return self.sizes.pop(request_id, 1)


class ReplyEngine:
    """One model for every reply thread of this worker process: streams a lone streaming request, batches
    everything else through a RequestBatcher."""

    def __init__(self, generator, *, max_batch_size: int | None = None, max_wait_s: float | None = None):
        self.generator = _BatchSizeRecorder(generator)
        self.batcher = RequestBatcher(
            self.generator,
            max_batch_size=max_batch_size or _setting("CHAT_BATCH_MAX_SIZE", 16),
            max_wait_s=max_wait_s if max_wait_s is not None else _setting("CHAT_BATCH_WAIT_MS", 20) / 1000,
        )
        self._lock = threading.Lock()
        self._in_flight = 0

    def complete(
        self, request: GenerationRequest, *, stream: bool, on_text: Callable[[str], None] | None = None
    ) -> Generated:
        with self._lock:
            alone = self._in_flight == 0
            self._in_flight += 1
        started = time.perf_counter()
        try:
            if stream and alone:
                chunks: list[str] = []
                first = None
                for chunk in self.generator.stream(request):
                    if first is None:
                        first = time.perf_counter()
                    chunks.append(chunk)
                    if on_text is not None:
                        on_text("".join(chunks))
                seconds = time.perf_counter() - started
                return Generated(
                    "".join(chunks), "stream", (first or time.perf_counter()) - started, seconds, None, 1
                )
            result = self.batcher.generate(request, timeout=_setting("CHAT_GENERATION_TIMEOUT_SECONDS", 120))
            seconds = time.perf_counter() - started
            size = self.generator.pop(request.request_id)
            return Generated(
                result.text,
                "batch",
                seconds,
                seconds,
                result.completion_tokens,
                size,
                finished=result.finish_reason != "length",
            )
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        self.batcher.close()


_engines: dict[tuple, ReplyEngine] = {}
_engines_lock = threading.Lock()


def engine_for(version: ModelVersion) -> ReplyEngine:
    """The process-wide engine of a model version (the weights themselves are cached by the backend)."""
    key = (version.pk, version.path, version.backend, version.endpoint_url, version.endpoint_model)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            from ml.serving import generator_for

            engine = _engines[key] = ReplyEngine(generator_for(version))
        return engine


def default_embedder():
    """MiniLM, loaded once per worker process (ml.serving.embedder)."""
    from ml.serving import embedder

    return embedder()


def embedder_name(embedder) -> str:
    name = getattr(embedder, "name", None)
    if name:
        return str(name)[:100]
    path = getattr(embedder, "model_path", None)
    return (Path(path).name if path else type(embedder).__name__)[:100]
