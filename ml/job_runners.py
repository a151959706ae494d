"""The worker-side runners of fine-tuning jobs, registered by name.

A feature app whose fine-tuning has its own evaluation and promotion rules (chat, copy) registers a runner in
its ``AppConfig.ready``: a name, the dotted path of the worker function (imported only when a worker runs the
job, so the web process never loads it), and the job parameters that function reads with their types. ``finetune_start``
stores the name in ``job.params["runner"]`` after checking it is registered and the parameters are there and typed;
``ml.tasks.finetune_task`` resolves the name. A job whose runner is not registered fails with that reason
instead of importing whatever a stored string names.

Jobs queued before runners had names stored the dotted path itself; a registered path still resolves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.utils.module_loading import import_string


class UnknownRunner(LookupError):
    pass


@dataclass(frozen=True)
class Runner:
    name: str
    path: str  # "package.module.function": function(job) -> str, run in the worker
    # The job parameters the function reads, with their JSON types: {"mode": str, "eval_product_ids": list}.
    params: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)

    def load(self) -> Callable:
        return import_string(self.path)


_RUNNERS: dict[str, Runner] = {}


def register(name: str, path: str, *, params: Mapping[str, type | tuple[type, ...]] | None = None) -> Runner:
    """Register (idempotently: ``ready()`` may run twice in tests) the runner ``name``."""
    runner = Runner(name, path, dict(params or {}))
    existing = _RUNNERS.get(name)
    if existing is not None and existing != runner:
        raise ValueError(f"job runner {name!r} is already registered as {existing.path}")
    _RUNNERS[name] = runner
    return runner


def runner_get(name: str) -> Runner:
    """The runner registered as ``name`` (or, for jobs queued before names, under that dotted path)."""
    if name in _RUNNERS:
        return _RUNNERS[name]
    for runner in _RUNNERS.values():
        if runner.path == name:
            return runner
    raise UnknownRunner(f"no job runner is registered as {name!r} (known: {', '.join(sorted(_RUNNERS))})")


def params_errors(params: Mapping) -> list[str]:
    """What is wrong with a job's parameters for its runner (none when the job names no runner)."""
    name = params.get("runner")
    if not name:
        return []
    try:
        runner = runner_get(name)
    except UnknownRunner as exc:
        return [str(exc)]
    errors = []
    missing = [key for key in runner.params if key not in params]
    if missing:
        errors.append(f"job runner {runner.name!r} needs the parameter(s) {', '.join(missing)}")
    for key, kind in runner.params.items():
        value = params.get(key)
        # bool is an int to Python; a count given as True is a mistake.
        wrong = not isinstance(value, kind) or (isinstance(value, bool) and bool not in _types(kind))
        if key in params and wrong:
            errors.append(f"job parameter {key!r} of runner {runner.name!r} must be {_type_names(kind)}")
    return errors


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _types(kind))
