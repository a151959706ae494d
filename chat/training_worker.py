"""The dotted path the chat fine-tuning runner is registered under (chat.apps), kept so that jobs queued with it
still resolve (ml.job_runners). The runner itself: chat.training.worker."""

from chat.training.worker import chat_finetune_run

__all__ = ["chat_finetune_run"]
