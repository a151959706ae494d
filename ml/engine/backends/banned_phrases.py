"""Banned phrases suppressed while decoding, each row of a batch with its own list.

A phrase becomes the token-id sequences of its common surface forms: as written, lower case, Capitalised,
Each Word Capitalised and UPPER CASE, each alone and after a space (byte-level BPE folds the space into the
word's first token, so " sale" and "sale" are different tokens). Then, as transformers' NoBadWords rule does:

- a form that is a single token is masked to -inf at every step;
- a form of several tokens has its last token masked at a step where the row's latest tokens are the
  form's other tokens (the model may start the phrase but cannot finish it in that spelling).

A phrase that is one character other than a letter, digit or space ("!", "[", "{") bans every vocabulary
token whose text contains that character, special tokens (end of turn, padding) excepted: tokenizers merge
punctuation into many tokens ("!\\n", "!!", "].") and banning only the bare one would leave the rest.

What this cannot do, on purpose: stop a phrase spelled with other tokens than the tokenizer's own encoding of
it (rare for a model trained on that tokenizer) or in a casing not listed. It makes bad text rarer; the
caller's checks still decide what is published.

Costs: each phrase's sequences are computed once per tokenizer and cached; the decoded vocabulary that
character bans scan (~0.4 s for 49k tokens) is built once per tokenizer, only when a character is banned.
Per decoding step: one ``index_put_`` over the precomputed (row, token) pairs of the single-token bans, and a
dictionary look-up of each row's latest token for the multi-token ones.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor

_CACHED_PHRASES = 20_000  # per tokenizer; brand voices add their own words, so bounded
_CACHED_LISTS = 512  # per tokenizer; a campaign's requests share a few lists


@dataclass(frozen=True, eq=False)
class TokenBans:
    """A phrase list compiled for one tokenizer.

    ``single``: token ids masked at every step. ``endings``: the latest token of a row -> (the tokens that
    must precede the banned one, ending with that latest token; the banned token).
    """

    single: frozenset[int]
    endings: Mapping[int, tuple[tuple[tuple[int, ...], int], ...]]

    def __bool__(self) -> bool:
        return bool(self.single or self.endings)


def surface_forms(phrase: str) -> list[str]:
    """The spellings banned for a phrase, alone and after a space."""
    phrase = phrase.strip()
    if not phrase:
        return []
    capitalised = phrase[:1].upper() + phrase[1:]
    words = " ".join(word[:1].upper() + word[1:] for word in phrase.split(" "))
    spellings = dict.fromkeys([phrase, phrase.lower(), capitalised, words, phrase.upper()])
    return [form for spelling in spellings for form in (spelling, " " + spelling)]


def is_character_ban(phrase: str) -> bool:
    return len(phrase) == 1 and not phrase.isalnum() and not phrase.isspace()


class _TokenizerBans:
    def __init__(self, tokenizer: Any) -> None:  # a transformers tokenizer (untyped to mypy)
        self.tokenizer = tokenizer
        self.lock = threading.Lock()
        specials = set(getattr(tokenizer, "all_special_ids", ()) or ())
        specials |= {
            i
            for i, token in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items()
            if getattr(token, "special", False)
        }
        self.special = frozenset(specials)
        self.vocabulary: list[str] | None = None
        self.phrases: OrderedDict[str, tuple[frozenset[int], frozenset[tuple[int, ...]]]] = OrderedDict()
        self.lists: OrderedDict[tuple[str, ...], TokenBans] = OrderedDict()

    def compile(self, phrases: tuple[str, ...]) -> TokenBans:
        with self.lock:
            if phrases in self.lists:
                self.lists.move_to_end(phrases)
                return self.lists[phrases]
            single: set[int] = set()
            sequences: set[tuple[int, ...]] = set()
            for phrase in phrases:
                one, many = self._phrase(phrase)
                single |= one
                sequences |= many
            endings: dict[int, list[tuple[tuple[int, ...], int]]] = {}
            for sequence in sequences:
                if sequence[-1] not in single:  # already banned outright
                    endings.setdefault(sequence[-2], []).append((sequence[:-1], sequence[-1]))
            bans = TokenBans(frozenset(single), {k: tuple(v) for k, v in endings.items()})
            self.lists[phrases] = bans
            while len(self.lists) > _CACHED_LISTS:
                self.lists.popitem(last=False)
            return bans

    def _phrase(self, phrase: str) -> tuple[frozenset[int], frozenset[tuple[int, ...]]]:
        if phrase in self.phrases:
            self.phrases.move_to_end(phrase)
            return self.phrases[phrase]
        text = phrase.strip()
        compiled: tuple[frozenset[int], frozenset[tuple[int, ...]]]
        if is_character_ban(text):
            compiled = (frozenset(self._containing(text)), frozenset())
        else:
            single: set[int] = set()
            sequences: set[tuple[int, ...]] = set()
            for form in surface_forms(text):
                ids = tuple(self.tokenizer(form, add_special_tokens=False)["input_ids"])
                if len(ids) == 1:
                    single.add(ids[0])
                elif ids:
                    sequences.add(ids)
            compiled = (frozenset(single - self.special), frozenset(sequences))
        self.phrases[phrase] = compiled
        while len(self.phrases) > _CACHED_PHRASES:
            self.phrases.popitem(last=False)
        return compiled

    def _containing(self, character: str) -> list[int]:
        if self.vocabulary is None:
            self.vocabulary = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))])
        return [i for i, text in enumerate(self.vocabulary) if character in text and i not in self.special]


_by_tokenizer: weakref.WeakKeyDictionary[Any, _TokenizerBans] = weakref.WeakKeyDictionary()
_by_tokenizer_lock = threading.Lock()


def token_bans(tokenizer: Any, phrases: Sequence[str]) -> TokenBans:
    """``phrases`` compiled for ``tokenizer`` (cached per tokenizer; blank phrases are ignored)."""
    if isinstance(phrases, str):
        raise TypeError("banned phrases must be a list of strings, not one string")
    with _by_tokenizer_lock:
        cache = _by_tokenizer.get(tokenizer)
        if cache is None:
            cache = _by_tokenizer[tokenizer] = _TokenizerBans(tokenizer)
    return cache.compile(tuple(dict.fromkeys(p for p in phrases if isinstance(p, str) and p.strip())))


class BannedPhrases(LogitsProcessor):
    """Masks each row's banned tokens (``row_bans[i]`` for row i; None or empty bans nothing)."""

    def __init__(self, row_bans: Sequence[TokenBans | None], device):
        rows, columns = [], []
        for row, bans in enumerate(row_bans):
            if bans:
                ids = sorted(bans.single)
                rows += [row] * len(ids)
                columns += ids
        self.single = (
            torch.tensor(rows, dtype=torch.long, device=device),
            torch.tensor(columns, dtype=torch.long, device=device),
        )
        self.endings = [bans.endings if bans else {} for bans in row_bans]
        self.longest = max(
            (len(prefix) for table in self.endings for entries in table.values() for prefix, _ in entries),
            default=0,
        )

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        minus_inf = torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device)
        if self.single[0].numel():
            scores.index_put_(self.single, minus_inf)
        if self.longest:
            rows, columns = [], []
            tails = input_ids[:, -self.longest :].tolist()
            for row, (table, tail) in enumerate(zip(self.endings, tails)):
                for prefix, banned in table.get(tail[-1], ()) if table else ():
                    if tuple(tail[-len(prefix) :]) == prefix:
                        rows.append(row)
                        columns.append(banned)
            if rows:
                index = torch.tensor([rows, columns], dtype=torch.long, device=scores.device)
                scores.index_put_((index[0], index[1]), minus_inf)
        return scores
