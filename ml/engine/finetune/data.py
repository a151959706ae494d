"""Fine-tuning data: validation, chat-template tokenisation with prompt masking, splits, length-grouped
batches."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ..errors import DatasetError

IGNORE_INDEX = -100
MIN_EXAMPLES = 5


@dataclass(frozen=True)
class Example:
    """One training pair. ``prompt`` is a user message or a list of chat messages ending before the reply."""

    prompt: str | tuple[Mapping[str, str], ...]
    response: str


@dataclass
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def coerce_examples(records: Iterable, min_examples: int = MIN_EXAMPLES) -> list[Example]:
    """Accept Examples, ``{"prompt", "response"}`` mappings or ``(prompt, response)`` pairs; fail clearly."""
    examples: list[Example] = []
    missing: list[int] = []
    malformed: list[int] = []
    prompt: object
    response: object
    for number, record in enumerate(records, start=1):
        if isinstance(record, Example):
            prompt, response = record.prompt, record.response
        elif isinstance(record, Mapping):
            prompt, response = record.get("prompt"), record.get("response")
        elif isinstance(record, (tuple, list)) and len(record) == 2:
            prompt, response = record
        else:
            malformed.append(number)
            continue
        if isinstance(prompt, list):
            prompt = tuple(prompt)
        if not (isinstance(prompt, str) and prompt.strip()) and not (isinstance(prompt, tuple) and prompt):
            malformed.append(number)
        elif not isinstance(response, str) or not response.strip():
            missing.append(number)
        else:
            examples.append(Example(prompt, response))
    if missing:
        raise DatasetError(f"{len(missing)} record(s) have no response (record {_numbers(missing)})")
    if malformed:
        raise DatasetError(f"{len(malformed)} record(s) have no usable prompt (record {_numbers(malformed)})")
    if not examples:
        raise DatasetError("the dataset is empty")
    if len(examples) < min_examples:
        raise DatasetError(
            f"the dataset is too small: {len(examples)} example(s), at least {min_examples} needed "
            "(some are held out for evaluation)"
        )
    return examples


def tokenize_example(tokenizer, example: Example, max_seq_len: int) -> TokenizedExample | None:
    """Prompt tokens are labelled -100 so only the reply is learned; None when truncation leaves no reply."""
    messages = (
        [{"role": "user", "content": example.prompt}]
        if isinstance(example.prompt, str)
        else [dict(m) for m in example.prompt]
    )
    prompt_text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(
        messages + [{"role": "assistant", "content": example.response}], tokenize=False
    )
    if not full_text.startswith(prompt_text):
        raise DatasetError("the chat template renders the reply in a way that does not extend the prompt")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    truncated = len(prompt_ids) + len(reply_ids) > max_seq_len
    if truncated:
        # Keep the end of the prompt (the latest turn) and the start of the reply.
        keep_prompt = max(max_seq_len - len(reply_ids), max_seq_len // 2)
        prompt_ids = prompt_ids[-keep_prompt:]
        reply_ids = reply_ids[: max_seq_len - len(prompt_ids)]
    if not reply_ids:
        return None
    return TokenizedExample(prompt_ids + reply_ids, [IGNORE_INDEX] * len(prompt_ids) + reply_ids, truncated)


def split_examples(items: Sequence, eval_fraction: float, seed: int) -> tuple[list, list]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_eval = min(max(1, round(len(items) * eval_fraction)), len(items) - 1)
    return [items[i] for i in order[n_eval:]], [items[i] for i in order[:n_eval]]


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches of similar lengths: sorted within shuffled windows of 50 batches, then shuffled."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[TokenizedExample], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (", ..." if len(numbers) > 10 else "")
