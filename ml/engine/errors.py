"""Errors raised by the engine. The Django side maps them to job errors and API field errors."""


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class InvalidCheckpoint(EngineError):
    """A path that should hold a Hugging Face checkpoint (or adapter) does not."""


class GenerationBackendError(EngineError):
    """A generation backend failed: unreachable, timed out after retries, or answered garbage."""


class DatasetError(EngineError):
    """A fine-tuning dataset is empty, too small or holds malformed records."""


class HyperparameterError(EngineError):
    """Fine-tuning hyperparameters are invalid; ``field_errors`` maps each field to its messages."""

    def __init__(self, field_errors: dict[str, list[str]]):
        self.field_errors = field_errors
        detail = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in sorted(field_errors.items()))
        super().__init__(f"invalid hyperparameters: {detail}")


class TrainingCancelled(EngineError):
    """The cancellation callback asked a fine-tuning run to stop; the last checkpoint is kept for resume."""
