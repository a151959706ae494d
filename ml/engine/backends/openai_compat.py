"""OpenAI-compatible HTTP backend (vLLM, TGI, Ollama, hosted APIs) over storyfront.outbound's guarded client.

The endpoint URL may be set by a tenant, so every request goes through the SSRF guard: loopback and private
addresses only when ``allow_private`` (self-hosted installs), never metadata or link-local ones, and no
redirects followed. Timeouts, connection failures and 5xx answers are retried a bounded number of times with
exponential backoff; 4xx and 3xx answers, refused destinations and bodies that are not the expected JSON fail
at once. Every failure surfaces as ``GenerationBackendError`` with the endpoint and the reason, ready to be
shown as a job error.

``GenerationParams.banned_phrases`` are not sent: the portable way to suppress text is ``logit_bias``, which
takes the server's own token ids, and guessing a remote model's tokenizer would ban the wrong tokens. Copy
from these servers is held to the same verifier as local copy, which flags what the ban would have prevented.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from storyfront.outbound import DestinationRefused, GuardedClient

from ..errors import GenerationBackendError
from ..generation import GenerationParams, GenerationRequest, GenerationResult, truncate_at_stop

_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}

logger = logging.getLogger(__name__)
_told_banned_phrases_ignored = False


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
        allow_private: bool = False,
    ):
        """``base_url`` is the server root (``http://host:8000``) or its ``/v1`` prefix.

        ``extra_sampling_fields`` sends ``top_k``/``repetition_penalty`` (understood by vLLM, TGI and
        Ollama's OpenAI layer); turn it off for strict servers that reject unknown fields.
        ``allow_private`` lets the endpoint be on loopback or a private network (the install's
        OUTBOUND_ALLOW_PRIVATE setting, passed in by the Django side).
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
        self.client = GuardedClient(allow_private=allow_private)

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
        if params.banned_phrases:
            _note_banned_phrases_ignored()
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
                response = self.client.request(
                    "POST", url, body=data, headers=headers, timeout=self.timeout_s
                )
                if 200 <= response.status < 300:
                    if stream:
                        return response
                    with response:
                        return response.read()
                with response:
                    detail = response.read(200)
            except DestinationRefused as exc:
                raise GenerationBackendError(f"{url}: {exc}") from exc
            except TimeoutError:
                last_error = f"timed out after {self.timeout_s:g}s"
                continue
            except (OSError, http.client.HTTPException) as exc:
                last_error = str(exc) or type(exc).__name__
                continue
            if 300 <= response.status < 400:
                raise GenerationBackendError(
                    f"{url} answered HTTP {response.status} redirecting to {response.getheader('Location')!r}; "
                    "redirects are not followed: set the endpoint URL to the server itself"
                )
            if response.status not in _RETRYABLE_STATUS:
                raise GenerationBackendError(f"{url} answered HTTP {response.status}: {detail!r}")
            last_error = f"HTTP {response.status}"
        raise GenerationBackendError(f"{url} failed after {self.max_retries + 1} attempts: {last_error}")


def _note_banned_phrases_ignored() -> None:
    global _told_banned_phrases_ignored
    if not _told_banned_phrases_ignored:
        _told_banned_phrases_ignored = True
        logger.debug(
            "OpenAI-compatible backend: banned_phrases are not sent (logit_bias needs the server's token ids); "
            "the output is still verified"
        )
