"""Generation backends implementing ``ml.engine.generation.TextGenerator``."""

from .local_hf import LocalHFGenerator, clear_model_cache, load_model
from .openai_compat import OpenAICompatibleGenerator

__all__ = ["LocalHFGenerator", "OpenAICompatibleGenerator", "clear_model_cache", "load_model"]
