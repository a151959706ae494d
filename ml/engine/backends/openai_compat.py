"""OpenAI-compatible HTTP backend (vLLM, TGI, Ollama, hosted APIs) over the standard library's urllib.

Timeouts, connection failures and 5xx answers are retried a bounded number of times with exponential
backoff; 4xx answers and bodies that are not the expected JSON fail at once. Every failure surfaces as
``GenerationBackendError`` with the endpoint and the reason, ready to be shown as a job error.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from ..errors import GenerationBackendError
from ..generation import GenerationParams, GenerationRequest, GenerationResult, truncate_at_stop

_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAICompatibleGenerator:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_concurrency: int = 8,
        extra_sampling_fields: bool = True,
    ):
        """``base_url`` is the server root (``http://host:8000``) or its ``/v1`` prefix.

        ``extra_sampling_fields`` sends ``top_k``/``repetition_penalty`` (understood by vLLM, TGI and
        Ollama's OpenAI layer); turn it off for strict servers that reject unknown fields.
        """
        root = base_url.rstrip("/")
        self.base_url = root if root.endswith("/v1") else root + "/v1"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_concurrency = max_concurrency
        self.extra_sampling_fields = extra_sampling_fields

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        # The server batches concurrent requests itself; a few in flight keep it busy.
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_concurrency, len(requests) or 1))) as pool:
            return list(pool.map(self._generate_one, requests))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        path, body = self._body(request)
        body["stream"] = True
        response = self._send(path, body, stream=True)
        text, sent, stops = "", 0, request.params.stop
        hold = max((len(s) for s in stops), default=1) - 1
        with response:
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    break
                text += self._chunk_text(path, data)
                cut, stopped = truncate_at_stop(text, stops)
                safe = len(cut) if stopped else max(sent, len(text) - hold)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
                if stopped:
                    return
        if len(text) > sent:
            yield text[sent:]

    def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        path, body = self._body(request)
        started = time.perf_counter()
        raw = self._send(path, body, stream=False)
        elapsed = time.perf_counter() - started
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            text = choice["message"]["content"] if path == "/chat/completions" else choice["text"]
            if not isinstance(text, str):
                raise TypeError("completion text is not a string")
            usage = payload.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            completion_tokens = int(usage.get("completion_tokens") or 0)
            reason = choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GenerationBackendError(
                f"{self.base_url}{path} answered something that is not a completion ({exc}): {raw[:200]!r}"
            ) from exc
        text, stopped = truncate_at_stop(text, request.params.stop)
        finish = "length" if reason == "length" and not stopped else "stop"
        return GenerationResult(text, prompt_tokens, completion_tokens, finish, elapsed, request.request_id)

    def _chunk_text(self, path: str, data: str) -> str:
        try:
            choice = json.loads(data)["choices"][0]
            text = (
                (choice.get("delta") or {}).get("content")
                if path == "/chat/completions"
                else choice.get("text")
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GenerationBackendError(
                f"{self.base_url}{path} streamed a malformed chunk: {data[:200]!r}"
            ) from exc
        return text or ""

    def _body(self, request: GenerationRequest) -> tuple[str, dict]:
        params: GenerationParams = request.params
        body: dict = {"model": self.model, "max_tokens": params.max_new_tokens}
        if params.greedy:
            body["temperature"] = 0.0
        else:
            body.update(temperature=params.temperature, top_p=params.top_p)
            if self.extra_sampling_fields and params.top_k:
                body["top_k"] = params.top_k
        if self.extra_sampling_fields and params.min_new_tokens:
            body["min_tokens"] = params.min_new_tokens
        if self.extra_sampling_fields and params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if request.messages is not None:
            body["messages"] = [dict(m) for m in request.messages]
            return "/chat/completions", body
        body["prompt"] = request.prompt
        return "/completions", body

    def _send(self, path: str, body: dict, *, stream: bool):
        """The open response when streaming, else the whole body; retried until the first byte arrives."""
        url = self.base_url + path
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = urllib.request.urlopen(
                    urllib.request.Request(url, data=data, headers=headers), timeout=self.timeout_s
                )
                if stream:
                    return response
                with response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:200]
                exc.close()
                if exc.code not in _RETRYABLE_STATUS:
                    raise GenerationBackendError(f"{url} answered HTTP {exc.code}: {detail!r}") from exc
                last_error = f"HTTP {exc.code}"
            except TimeoutError:
                last_error = f"timed out after {self.timeout_s:g}s"
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last_error = (
                    f"timed out after {self.timeout_s:g}s"
                    if isinstance(reason, socket.timeout)
                    else str(reason)
                )
        raise GenerationBackendError(f"{url} failed after {self.max_retries + 1} attempts: {last_error}")
