"""Plain helpers shared by the Models page tests (tests/ml/test_views_*.py)."""

import json

from ml.models import Job

HTMX = {"HTTP_HX_REQUEST": "true"}


def jsonl(records) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def pairs(n, start=0):
    return [
        {"prompt": f"Describe product {i}", "response": f"Product {i} is lovely."}
        for i in range(start, start + n)
    ]


def make_job(merchant, base_model=None, **fields):
    fields.setdefault("kind", Job.Kind.FINETUNE)
    fields.setdefault("params", {"name": "copy-run", "purpose": "copy", "hyperparameters": {"epochs": 1}})
    return Job.objects.create(merchant=merchant, base_version=base_model, **fields)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]
