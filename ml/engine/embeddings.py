"""Sentence embeddings: the ``Embedder`` protocol and the MiniLM-backed implementation."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .devices import resolve_device

_models: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


@runtime_checkable
class Embedder(Protocol):
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A float32 array of shape (len(texts), dimension), each row L2-normalised."""


class SentenceTransformerEmbedder:
    """A sentence-transformers model dir (default: the packaged all-MiniLM-L6-v2), loaded once per process."""

    def __init__(self, model_path: str | None = None, *, device: str | None = None, batch_size: int = 64):
        if model_path is None:
            from .provision import minilm_path

            model_path = minilm_path()
        self.model_path = str(model_path)
        self.device = str(resolve_device(device))
        self.batch_size = batch_size

    @property
    def model(self):
        key = (self.model_path, self.device)
        with _lock:
            if key not in _models:
                from sentence_transformers import SentenceTransformer

                _models[key] = SentenceTransformer(self.model_path, device=self.device)
            return _models[key]

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)
