"""What every generation backend speaks: requests, sampling params, results and the TextGenerator protocol."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

Message = Mapping[str, str]


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. ``greedy=True`` ignores temperature/top-p/top-k and the seed.

    ``banned_phrases`` are suppressed while decoding by backends that can (the local one, per row of a batch:
    see backends/banned_phrases.py); an OpenAI-compatible server cannot be given them portably and ignores
    them. Like the seed, they are per request and not part of ``sampling_key``, so requests with different
    lists still decode in one batch. Suppression only makes bad text rarer: callers check the output anyway.
    """

    max_new_tokens: int = 128
    min_new_tokens: int = 0  # end-of-turn is suppressed until this many tokens
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.15
    no_repeat_ngram_size: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    greedy: bool = False
    banned_phrases: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "stop", tuple(self.stop))
        if isinstance(self.banned_phrases, (list, tuple)):
            object.__setattr__(self, "banned_phrases", tuple(self.banned_phrases))

    def field_errors(self) -> dict[str, list[str]]:
        """Validation for the API layer: ``{field: [message, ...]}``, empty when valid."""
        errors: dict[str, list[str]] = {}

        def check(name: str, ok: bool, message: str) -> None:
            if not ok:
                errors.setdefault(name, []).append(message)

        check(
            "max_new_tokens",
            _is_int(self.max_new_tokens) and 1 <= self.max_new_tokens <= 4096,
            "must be an integer between 1 and 4096",
        )
        check(
            "min_new_tokens",
            _is_int(self.min_new_tokens) and 0 <= self.min_new_tokens <= self.max_new_tokens
            if _is_int(self.max_new_tokens)
            else False,
            "must be an integer between 0 and max_new_tokens",
        )
        check("temperature", _is_num(self.temperature) and 0 < self.temperature <= 5, "must be in (0, 5]")
        check("top_p", _is_num(self.top_p) and 0 < self.top_p <= 1, "must be in (0, 1]")
        check("top_k", _is_int(self.top_k) and self.top_k >= 0, "must be a non-negative integer (0 = off)")
        check(
            "repetition_penalty",
            _is_num(self.repetition_penalty) and 1 <= self.repetition_penalty <= 3,
            "must be in [1, 3]",
        )
        check(
            "no_repeat_ngram_size",
            _is_int(self.no_repeat_ngram_size) and 0 <= self.no_repeat_ngram_size <= 16,
            "must be an integer between 0 (off) and 16",
        )
        check(
            "stop",
            all(isinstance(s, str) and s for s in self.stop) and len(self.stop) <= 8,
            "must be at most 8 non-empty strings",
        )
        check(
            "seed",
            self.seed is None or (_is_int(self.seed) and 0 <= self.seed < 2**63),
            "must be a non-negative integer",
        )
        check(
            "banned_phrases",
            isinstance(self.banned_phrases, tuple)
            and len(self.banned_phrases) <= MAX_BANNED_PHRASES
            and all(
                isinstance(p, str) and p.strip() and len(p) <= MAX_BANNED_PHRASE_CHARS
                for p in self.banned_phrases
            ),
            f"must be a list of at most {MAX_BANNED_PHRASES} non-blank strings of at most "
            f"{MAX_BANNED_PHRASE_CHARS} characters",
        )
        return errors

    def sampling_key(self) -> tuple:
        """All but the per-request fields (seed, banned phrases): requests sharing it decode in one batch."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name not in _PER_REQUEST)


MAX_BANNED_PHRASES = 500
MAX_BANNED_PHRASE_CHARS = 100
_PER_REQUEST = frozenset({"seed", "banned_phrases"})


@dataclass(frozen=True)
class GenerationRequest:
    """Either chat ``messages`` (the model's chat template is applied) or a raw ``prompt`` used verbatim."""

    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    request_id: str | None = None

    def __post_init__(self):
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a GenerationRequest takes exactly one of messages or prompt")
        if self.messages is not None:
            messages = tuple(dict(m) for m in self.messages)
            if not messages or any(
                not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str) for m in messages
            ):
                raise ValueError("messages must be a non-empty list of {'role': str, 'content': str}")
            object.__setattr__(self, "messages", messages)

    @classmethod
    def chat(cls, messages: Sequence[Message], request_id: str | None = None, **params) -> GenerationRequest:
        return cls(messages=tuple(messages), params=GenerationParams(**params), request_id=request_id)

    @classmethod
    def raw(cls, prompt: str, request_id: str | None = None, **params) -> GenerationRequest:
        return cls(prompt=prompt, params=GenerationParams(**params), request_id=request_id)


@dataclass(frozen=True)
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop sequence) or "length"
    seconds: float  # wall time of the batch this request was decoded in
    request_id: str | None = None


@runtime_checkable
class TextGenerator(Protocol):
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Results in the order of ``requests``."""

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Text chunks whose concatenation is the reply."""


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop sequence; the flag says whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
