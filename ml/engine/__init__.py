"""Storyfront's model engine: framework-free model code (torch, transformers, PEFT, sentence-transformers).

Never imports Django; the ``ml`` app's registry and Celery tasks drive it. Public API:

Provisioning
    provision_base_models(store_dir) -> {"smollm2-135m-instruct": dir, "all-minilm-l6-v2": dir}
    validate_checkpoint_dir(path) / validate_adapter_dir(path) -> Path, else InvalidCheckpoint

Generation (``TextGenerator`` protocol: ``generate(requests) -> results``, ``stream(request) -> chunks``)
    GenerationParams, GenerationRequest.chat(messages, **params) / .raw(prompt, **params), GenerationResult
    LocalHFGenerator(model_path, adapter_path=None, device=None, dtype=None, quantization=None, max_batch_size=64)
    OpenAICompatibleGenerator(base_url, model, api_key=None, timeout_s=60, max_retries=2, ...)

Fine-tuning (the `finetune` function lives in the `ml.engine.finetune` subpackage of the same name)
    Example(prompt: str | messages, response), FinetuneParams (+ .field_errors()),
    validate_finetune_params(dict) -> {field: [messages]}
    finetune.finetune(base_model_path, examples, output_dir, params, *, parent_adapter_path=None, device=None,
             progress=None, should_cancel=None, resume=True) -> FinetuneResult
        (output_dir/adapter for LoRA or output_dir/model for full; output_dir/checkpoint while running)
    evaluate_loss(model_path, examples, *, adapter_path=None, max_seq_len=512) -> (loss, perplexity)

Batching concurrent requests (chat workers)
    RequestBatcher(generator, max_batch_size=16, max_wait_s=0.02): .submit(request) -> Future[GenerationResult],
    .generate(request, timeout=None) -> GenerationResult, .close()

Embeddings (``Embedder`` protocol: ``embed(texts) -> float32 (n, dim) unit vectors``)
    SentenceTransformerEmbedder(model_path=None, device=None, batch_size=64)

Errors: EngineError > InvalidCheckpoint, GenerationBackendError, DatasetError, HyperparameterError
(``.field_errors``), TrainingCancelled.
"""

import importlib

# Public names and the submodule that defines each. They are imported on first use (PEP 562), so that
# `ml.engine.errors`, `ml.engine.provision`, `ml.engine.grounding` and `ml.engine.prompts` stay importable
# in the web process without pulling in torch.
_EXPORTS = {
    "LocalHFGenerator": "backends",
    "OpenAICompatibleGenerator": "backends",
    "clear_model_cache": "backends",
    "RequestBatcher": "batching",
    "Embedder": "embeddings",
    "SentenceTransformerEmbedder": "embeddings",
    "DatasetError": "errors",
    "EngineError": "errors",
    "GenerationBackendError": "errors",
    "HyperparameterError": "errors",
    "InvalidCheckpoint": "errors",
    "TrainingCancelled": "errors",
    "Example": "finetune",
    "FinetuneParams": "finetune",
    "FinetuneResult": "finetune",
    "TrainingProgress": "finetune",
    "evaluate_loss": "finetune",
    "validate_finetune_params": "finetune",
    "GenerationParams": "generation",
    "GenerationRequest": "generation",
    "GenerationResult": "generation",
    "TextGenerator": "generation",
    "minilm_path": "provision",
    "provision_base_models": "provision",
    "validate_adapter_dir": "provision",
    "validate_checkpoint_dir": "provision",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


# --- Copy studio: grounding checks and copy prompts (standard library only, safe in the web process) ---
# check_copy(fields, product, *, channel, banned_words=(), prompt="") -> GroundingReport (Claim items);
# build_copy_messages(product, *, channel, ...) -> chat messages; parse_copy_output(text, channel) -> fields.
_EXPORTS.update(
    {
        "CHANNELS": "grounding",
        "CHANNEL_FIELDS": "grounding",
        "CHANNEL_LIMITS": "grounding",
        "Claim": "grounding",
        "GroundingReport": "grounding",
        "check_copy": "grounding",
        "distinct_n": "grounding",
        "duplicate_rate": "grounding",
        "build_copy_messages": "prompts",
        "parse_copy_output": "prompts",
    }
)
__all__ = sorted(_EXPORTS)


# --- Customer-service chat (standard library only, safe in the web process) ---
# build_chat_messages(*, question, history, knowledge, products, merchant_name, ...) -> chat messages;
# check_reply(reply, *, system_prompt, ...) -> ReplyCheck; detect_handoff_request / detect_injection /
# match_sensitive_topic on shopper text; mask_pii(text) -> MaskResult; hybrid_rank(...) for retrieval;
# parse_dialogues(data, format=None) -> ParseResult and dialogue_to_examples(dialogue) for fine-tuning.
_EXPORTS.update(
    {
        "ACTION_FALLBACK_REPLY": "chat",
        "FACTS_HEADER": "chat",
        "FALLBACK_REPLY": "chat",
        "HANDOFF_NOTICE": "chat",
        "INJECTION_PATTERNS": "chat",
        "REFUSAL_REPLY": "chat",
        "ReplyCheck": "chat",
        "build_chat_messages": "chat",
        "build_system_prompt": "chat",
        "check_reply": "chat",
        "detect_handoff_request": "chat",
        "detect_injection": "chat",
        "match_sensitive_topic": "chat",
        "system_prompt_fingerprint": "chat",
        "DIALOGUE_FORMATS": "dialogues",
        "Dialogue": "dialogues",
        "ParseResult": "dialogues",
        "dialogue_to_examples": "dialogues",
        "parse_dialogues": "dialogues",
        "PII_TYPES": "pii",
        "MaskResult": "pii",
        "PiiSpan": "pii",
        "find_pii": "pii",
        "mask_pii": "pii",
        "pii_key": "pii",
        "cosine": "retrieval",
        "hybrid_rank": "retrieval",
        "semantic_score": "retrieval",
    }
)
__all__ = sorted(_EXPORTS)
