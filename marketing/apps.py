from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "marketing"

    def ready(self):
        from ml.job_runners import register

        register(
            "copy.finetune",
            "marketing.copy_training_worker.copy_finetune_run",
            params={"auto_promote": bool, "eval_dataset_id": int, "eval_product_ids": list},
        )
