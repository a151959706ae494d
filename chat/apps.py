from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        from ml.job_runners import register

        register(
            "chat.finetune",
            "chat.training_worker.chat_finetune_run",
            params={"mode": str, "auto_promote": bool, "conversation_ids": list},
        )
