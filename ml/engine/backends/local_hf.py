"""Local Hugging Face backend: batched, padded, KV-cached decoding of chat or raw prompts.

Models are loaded lazily, once per process, into a small LRU cache keyed by (checkpoint, adapter, device,
dtype, quantisation); a LoRA adapter is merged into its own copy of the base so the cached base stays clean.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from threading import Thread
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from ..devices import cpu_bf16_is_fast, resolve_device, resolve_dtype, tune_cpu_allocator
from ..generation import GenerationParams, GenerationRequest, GenerationResult, truncate_at_stop
from ..provision import validate_adapter_dir, validate_checkpoint_dir
from .attention import ATTENTION as DECODE_ATTENTION
from .banned_phrases import BannedPhrases, token_bans
from .decoding import MinNewTokens, NoRepeatNGram, RepetitionPenalty, SeededSampler, StopOnText
from .prefill import prefill, shared_prefix_length

MODEL_CACHE_SIZE = int(os.environ.get("STORYFRONT_MODEL_CACHE_SIZE", "2"))


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: Any  # a transformers tokenizer (transformers is untyped to mypy)
    device: torch.device
    dtype: torch.dtype
    context_length: int


_cache: OrderedDict[tuple, LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def load_model(
    path, adapter_path=None, device: str | None = None, dtype=None, quantization: str | None = None
) -> LoadedModel:
    """The cached model for these settings, loading it on first use (evicting the least recently used)."""
    folder = validate_checkpoint_dir(path).resolve()
    adapter = validate_adapter_dir(adapter_path).resolve() if adapter_path else None
    dev = resolve_device(device)
    if quantization not in (None, "int8"):
        raise ValueError(f"unknown quantization {quantization!r} (None or 'int8')")
    if quantization and dev.type != "cpu":
        raise ValueError("int8 dynamic quantization is a CPU option")
    # Dynamic int8 quantizes fp32 linear layers (its activations are fp32), so it never takes the bf16 that
    # the CPU probe picks on AVX512-BF16/AMX machines; asking for int8 with an explicit non-fp32 dtype is an error.
    if quantization and dtype in (None, "auto"):
        dtype = "float32"
    dt = resolve_dtype(dev, dtype)
    if quantization and dt != torch.float32:
        raise ValueError("int8 dynamic quantization needs float32 weights (dtype=None or 'float32')")
    key = (str(folder), str(adapter) if adapter else None, str(dev), str(dt), quantization)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        loaded = _load(folder, adapter, dev, dt, quantization)
        _cache[key] = loaded
        while len(_cache) > max(MODEL_CACHE_SIZE, 1):
            _cache.popitem(last=False)
        return loaded


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _load(folder, adapter, device, dtype, quantization) -> LoadedModel:
    if device.type == "cpu":
        tune_cpu_allocator()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.to(device).eval()
    if device.type == "cpu":
        _use_decode_attention(model)
    if quantization == "int8":
        model = _quantize_int8(model)
    context = getattr(model.config, "max_position_embeddings", None) or 2048
    return LoadedModel(model, tokenizer, device, dtype, int(context))


def _use_decode_attention(model) -> None:
    """Grouped-matmul attention for decode steps (see attention.py), where the model takes its attention
    function from transformers' AttentionInterface; other models keep their own attention."""
    try:
        model.set_attn_implementation(DECODE_ATTENTION)
    except (AttributeError, ValueError, NotImplementedError) as exc:
        warnings.warn(f"keeping the model's attention implementation: {exc}", stacklevel=2)


def _quantize_int8(model):
    # Per-channel int8 weights with per-batch activation scales (fbgemm). ~1.6x faster decoding on AVX2
    # CPUs, but the activation scale spans the whole batch, so outputs depend slightly on batch company.
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    _release_freed_memory()  # the replaced fp32 weights would otherwise stay in the worker's RSS
    return quantized


def _release_freed_memory() -> None:
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class LocalHFGenerator:
    """``TextGenerator`` over a local checkpoint directory (plus an optional PEFT adapter directory)."""

    def __init__(
        self,
        model_path,
        adapter_path=None,
        *,
        device: str | None = None,
        dtype=None,
        quantization: str | None = None,
        max_batch_size: int = 64,
    ):
        self.model_path = model_path
        self.adapter_path = adapter_path
        self.device = device
        self.dtype = dtype
        self.quantization = quantization
        self.max_batch_size = max_batch_size
        validate_checkpoint_dir(model_path)
        if adapter_path:
            validate_adapter_dir(adapter_path)

    @property
    def loaded(self) -> LoadedModel:
        return load_model(self.model_path, self.adapter_path, self.device, self.dtype, self.quantization)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        loaded = self.loaded
        encoded = [(i, self._encode(loaded, r)) for i, r in enumerate(requests)]
        results: dict[int, GenerationResult] = {}
        # Same decoding settings decode together (seeds and banned phrases are per row); within them, similar
        # lengths share a batch (less padding).
        by_params = sorted(
            encoded, key=lambda item: (repr(requests[item[0]].params.sampling_key()), len(item[1]))
        )
        for _, group in groupby(by_params, key=lambda item: repr(requests[item[0]].params.sampling_key())):
            members = list(group)
            for start in range(0, len(members), self.max_batch_size):
                chunk = members[start : start + self.max_batch_size]
                batch = [requests[i] for i, _ in chunk]
                for (i, _), result in zip(
                    chunk, self._generate_batch(loaded, batch, [ids for _, ids in chunk])
                ):
                    results[i] = result
        return [results[i] for i in range(len(requests))]

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        loaded = self.loaded
        ids = self._encode(loaded, request)
        streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self._generate_kwargs(
            loaded, request.params, [ids], [request.params.seed], [request.params.banned_phrases]
        )
        failure: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    loaded.model.generate(**kwargs, streamer=streamer)
            except BaseException as exc:  # noqa: BLE001 (re-raised in the consumer's thread)
                failure.append(exc)
                streamer.end()

        Thread(target=run, daemon=True).start()
        stops = request.params.stop
        hold = max((len(s) for s in stops), default=1) - 1
        text, sent, stopped = "", 0, False
        for chunk in streamer:
            text += chunk
            cut, stopped = truncate_at_stop(text, stops)
            safe = len(cut) if stopped else max(sent, len(text) - hold)
            if safe > sent:
                yield text[sent:safe]
                sent = safe
            if stopped:
                for _ in streamer:  # let the worker thread run to its stopping criterion
                    pass
                break
        if failure:
            raise failure[0]
        if not stopped and len(text) > sent:
            yield text[sent:]

    def _encode(self, loaded: LoadedModel, request: GenerationRequest) -> list[int]:
        tokenizer = loaded.tokenizer
        if request.messages is not None:
            text = tokenizer.apply_chat_template(
                list(request.messages), tokenize=False, add_generation_prompt=True
            )
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = tokenizer(request.prompt)["input_ids"]
        budget = loaded.context_length - request.params.max_new_tokens
        if budget < 1:
            raise ValueError(f"max_new_tokens exceeds the model's context of {loaded.context_length} tokens")
        return ids[-budget:]  # keep the end of an over-long prompt: the latest turns matter most

    def _generate_kwargs(
        self,
        loaded: LoadedModel,
        params: GenerationParams,
        rows: list[list[int]],
        seeds: list[int | None],
        banned: list[tuple[str, ...]],
    ) -> dict:
        """``params`` are the batch's shared settings; ``seeds`` and ``banned`` (phrases) are per row."""
        tokenizer = loaded.tokenizer
        pad_id = tokenizer.pad_token_id
        shared = shared_prefix_length(rows)
        prefix, suffixes = rows[0][:shared], [r[shared:] for r in rows]
        # Layout [shared prefix][padding][own suffix]: positions come from the attention mask, so every row
        # sees the same prefix positions and the prefix's KV cache is computed once for the whole batch.
        width = shared + max(len(s) for s in suffixes)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        input_ids[:, :shared] = torch.tensor(prefix, dtype=torch.long)
        attention_mask[:, :shared] = 1
        for i, suffix in enumerate(suffixes):
            input_ids[i, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
            attention_mask[i, width - len(suffix) :] = 1
        input_ids, attention_mask = input_ids.to(loaded.device), attention_mask.to(loaded.device)
        extra = {}
        if len(rows) > 1:
            extra["cache"] = prefill(
                loaded.model,
                input_ids,
                attention_mask,
                shared,
                reserve=params.max_new_tokens,
                cache_dtype=self._cache_dtype(loaded),
            )
        prompt_mask = attention_mask.bool()
        eos = loaded.model.generation_config.eos_token_id or tokenizer.eos_token_id
        processors = LogitsProcessorList()
        if params.min_new_tokens:
            processors.append(
                MinNewTokens(params.min_new_tokens, width, eos if isinstance(eos, list) else [eos])
            )
        if params.repetition_penalty != 1.0:
            processors.append(RepetitionPenalty(params.repetition_penalty, prompt_mask))
        if params.no_repeat_ngram_size:
            processors.append(NoRepeatNGram(params.no_repeat_ngram_size, prompt_mask))
        if any(banned):
            row_bans = [token_bans(tokenizer, phrases) if phrases else None for phrases in banned]
            processors.append(BannedPhrases(row_bans, loaded.device))
        if not params.greedy:
            processors.append(
                SeededSampler(params.temperature, params.top_k, params.top_p, seeds, loaded.device)
            )
        stopping = StoppingCriteriaList()
        if params.stop:
            stopping.append(StopOnText(params.stop, width, tokenizer))
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=False,  # sampling happens in SeededSampler, one generator per row
            pad_token_id=pad_id,
            eos_token_id=eos,
            use_cache=True,
        )
        return dict(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=stopping,
            **extra,
        )

    def _cache_dtype(self, loaded: LoadedModel) -> torch.dtype | None:
        """bf16 KV cache for the int8 model on bf16-capable CPUs (see attention.py); else the model's dtype.

        Only int8, whose batched output already depends on the batch (activation scales): the exact fp32
        path keeps batched == one-at-a-time.
        """
        if self.quantization == "int8" and loaded.device.type == "cpu" and cpu_bf16_is_fast():
            return torch.bfloat16
        return None

    def _generate_batch(
        self, loaded: LoadedModel, batch: list[GenerationRequest], rows: list[list[int]]
    ) -> list[GenerationResult]:
        params = batch[0].params
        kwargs = self._generate_kwargs(
            loaded, params, rows, [r.params.seed for r in batch], [r.params.banned_phrases for r in batch]
        )
        started = time.perf_counter()
        with torch.inference_mode():
            output = loaded.model.generate(**kwargs)
        elapsed = time.perf_counter() - started
        eos = kwargs["generation_config"].eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        # A row that finished early is filled with pad tokens up to the batch's longest row.
        ends = eos_ids | {kwargs["generation_config"].pad_token_id}
        generated = output[:, kwargs["input_ids"].shape[1] :].tolist()
        results = []
        for request, ids, new in zip(batch, rows, generated):
            end = next((j for j, token in enumerate(new) if token in ends), len(new))
            hit_eos = end < len(new) and new[end] in eos_ids
            text = loaded.tokenizer.decode(new[:end], skip_special_tokens=True)
            text, stopped = truncate_at_stop(text, params.stop)
            finish = "stop" if stopped or hit_eos else "length"
            results.append(
                GenerationResult(text, len(ids), end + hit_eos, finish, elapsed, request.request_id)
            )
        return results
