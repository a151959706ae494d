"""Storyfront's model engine: framework-free model code (torch, transformers, PEFT, sentence-transformers).

Never imports Django; the ``ml`` app's registry and Celery tasks drive it. Public API:

Provisioning
    provision_base_models(store_dir) -> {"smollm2-135m-instruct": dir, "all-minilm-l6-v2": dir}
    validate_checkpoint_dir(path) / validate_adapter_dir(path) -> Path, else InvalidCheckpoint

Generation (``TextGenerator`` protocol: ``generate(requests) -> results``, ``stream(request) -> chunks``)
    GenerationParams, GenerationRequest.chat(messages, **params) / .raw(prompt, **params), GenerationResult
    LocalHFGenerator(model_path, adapter_path=None, device=None, dtype=None, quantization=None, max_batch_size=64)
    OpenAICompatibleGenerator(base_url, model, api_key=None, timeout_s=60, max_retries=2, ...)

Fine-tuning
    Example(prompt: str | messages, response), FinetuneParams (+ .field_errors()),
    validate_finetune_params(dict) -> {field: [messages]}
    finetune(base_model_path, examples, output_dir, params, *, parent_adapter_path=None, device=None,
             progress=None, should_cancel=None, resume=True) -> FinetuneResult
        (output_dir/adapter for LoRA or output_dir/model for full; output_dir/checkpoint while running)
    evaluate_loss(model_path, examples, *, adapter_path=None, max_seq_len=512) -> (loss, perplexity)

Embeddings (``Embedder`` protocol: ``embed(texts) -> float32 (n, dim) unit vectors``)
    SentenceTransformerEmbedder(model_path=None, device=None, batch_size=64)

Errors: EngineError > InvalidCheckpoint, GenerationBackendError, DatasetError, HyperparameterError
(``.field_errors``), TrainingCancelled.
"""

from .backends import LocalHFGenerator, OpenAICompatibleGenerator, clear_model_cache
from .embeddings import Embedder, SentenceTransformerEmbedder
from .errors import (
    DatasetError,
    EngineError,
    GenerationBackendError,
    HyperparameterError,
    InvalidCheckpoint,
    TrainingCancelled,
)
from .finetune import (
    Example,
    FinetuneParams,
    FinetuneResult,
    TrainingProgress,
    evaluate_loss,
    finetune,
    validate_finetune_params,
)
from .generation import GenerationParams, GenerationRequest, GenerationResult, TextGenerator
from .provision import minilm_path, provision_base_models, validate_adapter_dir, validate_checkpoint_dir

__all__ = [
    "DatasetError", "Embedder", "Example", "FinetuneParams", "FinetuneResult", "TrainingProgress",
    "evaluate_loss", "finetune", "validate_finetune_params", "EngineError", "GenerationBackendError", "GenerationParams", "GenerationRequest",
    "GenerationResult", "HyperparameterError", "InvalidCheckpoint", "LocalHFGenerator", "OpenAICompatibleGenerator",
    "SentenceTransformerEmbedder", "TextGenerator", "TrainingCancelled", "clear_model_cache", "minilm_path",
    "provision_base_models", "validate_adapter_dir", "validate_checkpoint_dir",
]
