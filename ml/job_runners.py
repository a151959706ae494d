"""The worker-side runners of fine-tuning jobs, registered by name.

A feature app whose fine-tuning has its own evaluation and promotion rules (chat, copy) registers a runner in
its ``AppConfig.ready``: a name, the dotted path of the worker function (imported only when a worker runs the
job, so the web process never loads it), and the job parameters that function needs. ``finetune_start``
stores the name in ``job.params["runner"]`` after checking it is registered and the parameters are there;
``ml.tasks.finetune_task`` resolves the name. A job whose runner is not registered fails with that reason
instead of importing whatever a stored string names.

Jobs queued before runners had names stored the dotted path itself; a registered path still resolves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.utils.module_loading import import_string


class UnknownRunner(LookupError):
    pass


@dataclass(frozen=True)
class Runner:
    name: str
    path: str  # "package.module.function": function(job) -> str, run in the worker
    required_params: tuple[str, ...] = ()

    def load(self) -> Callable:
        return import_string(self.path)


_RUNNERS: dict[str, Runner] = {}


def register(name: str, path: str, *, required_params: tuple[str, ...] = ()) -> Runner:
    """Register (idempotently: ``ready()`` may run twice in tests) the runner ``name``."""
    runner = Runner(name, path, tuple(required_params))
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
    missing = [key for key in runner.required_params if key not in params]
    return [f"job runner {runner.name!r} needs the parameter(s) {', '.join(missing)}"] if missing else []
