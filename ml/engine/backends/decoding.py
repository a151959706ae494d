"""Logits processors and stopping criteria for batched decoding that keep every row independent of its batch.

Hugging Face's own repetition penalty and n-gram blocking read the padding as if it were text (and the
pad id is often the end-of-turn id), and its sampler draws every row from one random stream; these versions
look only at each row's real tokens and give each row its own seeded generator, so a request decodes the
same alone or in a batch.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import torch
from transformers import LogitsProcessor, StoppingCriteria


def _real_token_mask(input_ids: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
    """``prompt_mask`` marks the prompt's real (non-pad) tokens; everything generated after it is real."""
    generated = input_ids.shape[1] - prompt_mask.shape[1]
    return torch.cat([prompt_mask, prompt_mask.new_ones((input_ids.shape[0], generated))], dim=1)


class RepetitionPenalty(LogitsProcessor):
    def __init__(self, penalty: float, prompt_mask: torch.Tensor):
        self.penalty = penalty
        self.prompt_mask = prompt_mask

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        real = _real_token_mask(input_ids, self.prompt_mask).to(scores.dtype)
        seen = torch.zeros_like(scores).scatter_add_(1, input_ids, real) > 0
        penalised = torch.where(scores > 0, scores / self.penalty, scores * self.penalty)
        return torch.where(seen, penalised, scores)


class NoRepeatNGram(LogitsProcessor):
    """Bans any token that would complete an n-gram already present in the row (prompt included)."""

    def __init__(self, size: int, prompt_mask: torch.Tensor):
        self.size = size
        self.prompt_mask = prompt_mask

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        n = self.size
        if input_ids.shape[1] < n:
            return scores
        windows = input_ids.unfold(1, n, 1)  # (batch, positions, n)
        real = _real_token_mask(input_ids, self.prompt_mask).unfold(1, n, 1).all(-1)
        tail = input_ids[:, input_ids.shape[1] - n + 1 :].unsqueeze(1)
        hits = (windows[:, :, :-1] == tail).all(-1) & real
        banned = torch.zeros_like(scores).scatter_add_(1, windows[:, :, -1], hits.to(scores.dtype)) > 0
        return scores.masked_fill(banned, float("-inf"))


class SeededSampler(LogitsProcessor):
    """Temperature, top-k and top-p sampling with one generator per row.

    It returns logits that are -inf everywhere but the drawn token, so the surrounding greedy loop picks it.
    Top-k is applied before top-p so the nucleus is sorted over k candidates, not the whole vocabulary.
    """

    def __init__(self, temperature: float, top_k: int, top_p: float, seeds: Sequence[int | None], device):
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.generators = []
        for seed in seeds:
            generator = torch.Generator(device=device)
            generator.manual_seed(secrets.randbits(63) if seed is None else seed)
            self.generators.append(generator)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float() / self.temperature
        k = logits.shape[-1] if self.top_k <= 0 else min(self.top_k, logits.shape[-1])
        values, indices = logits.topk(k, dim=-1)
        probs = values.softmax(-1)
        outside_nucleus = probs.cumsum(-1) - probs > self.top_p
        probs = probs.masked_fill(outside_nucleus, 0.0)
        picks = torch.stack(
            [torch.multinomial(row, 1, generator=gen) for row, gen in zip(probs, self.generators)]
        )
        tokens = indices.gather(1, picks)
        return torch.full_like(scores, float("-inf")).scatter_(1, tokens, 0.0)


class StopOnText(StoppingCriteria):
    """Marks a row done once its generated text contains one of the stop sequences."""

    def __init__(self, stops: Sequence[str], prompt_length: int, tokenizer):
        self.stops = [s for s in stops if s]
        self.prompt_length = prompt_length
        self.tokenizer = tokenizer
        self.window = max((len(s) for s in self.stops), default=0) + 2

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        tails = input_ids[:, max(self.prompt_length, input_ids.shape[1] - self.window) :].tolist()
        for row, tail in enumerate(tails):
            text = self.tokenizer.decode(tail, skip_special_tokens=True)
            done[row] = any(stop in text for stop in self.stops)
        return done
