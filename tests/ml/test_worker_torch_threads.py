"""TORCH_NUM_THREADS caps torch's CPU threads in every worker process (prefork children and the main process
of threads/solo pools); unset, torch keeps its own default."""

import pytest

from ml import worker_signals


@pytest.fixture
def torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_setting_caps_torch_threads(settings, torch_threads):
    torch_threads.set_num_threads(2)
    settings.TORCH_NUM_THREADS = 1
    worker_signals.limit_torch_threads()
    assert torch_threads.get_num_threads() == 1


def test_unset_leaves_torch_alone(settings, torch_threads):
    torch_threads.set_num_threads(2)
    settings.TORCH_NUM_THREADS = 0
    worker_signals.limit_torch_threads()
    assert torch_threads.get_num_threads() == 2


def test_handler_is_connected_to_both_worker_signals():
    from celery import signals

    for signal in (signals.worker_process_init, signals.worker_init):
        receivers = [
            ref() if callable(ref) and not hasattr(ref, "__code__") else ref for _, ref in signal.receivers
        ]
        assert worker_signals.limit_torch_threads in receivers, signal
