import numpy as np
import pytest

from ml.engine import Embedder, SentenceTransformerEmbedder


@pytest.mark.integration
def test_minilm_embeddings_are_normalised_and_meaningful():
    embedder = SentenceTransformerEmbedder()
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed(
        ["navy blue denim jacket for men", "men's dark blue jean jacket", "how do I return an order?"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2
    assert embedder.embed([]).shape == (0, 384)
    assert SentenceTransformerEmbedder().model is embedder.model  # loaded once per process
