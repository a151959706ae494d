import threading

import pytest

from ml.engine import GenerationRequest, GenerationResult, LocalHFGenerator, RequestBatcher


class RecordingGenerator:
    """A fake TextGenerator that records the batches it is given."""

    def __init__(self, fail=False):
        self.batches = []
        self.fail = fail

    def generate(self, requests):
        self.batches.append([r.request_id for r in requests])
        if self.fail:
            raise RuntimeError("backend down")
        return [GenerationResult(f"reply {r.request_id}", 1, 1, "stop", 0.0, r.request_id) for r in requests]

    def stream(self, request):
        yield from ()


def test_concurrent_requests_share_a_batch_and_get_their_own_results():
    fake = RecordingGenerator()
    batcher = RequestBatcher(fake, max_batch_size=8, max_wait_s=0.2)
    results = {}
    start = threading.Barrier(8)

    def chat(i):
        start.wait()
        results[i] = batcher.generate(GenerationRequest.raw(f"hi {i}", request_id=str(i)), timeout=5)

    threads = [threading.Thread(target=chat, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert {i: r.text for i, r in results.items()} == {i: f"reply {i}" for i in range(8)}
    assert len(fake.batches) < 8 and sum(map(len, fake.batches)) == 8


def test_a_failing_batch_fails_each_waiter():
    batcher = RequestBatcher(RecordingGenerator(fail=True), max_wait_s=0.01)
    with pytest.raises(RuntimeError, match="backend down"):
        batcher.generate(GenerationRequest.raw("x"), timeout=5)
    batcher.close()


def test_batched_chat_replies_equal_one_at_a_time(tiny_checkpoint):
    # float32: exact equality is what padding/masking guarantees; in bf16 a different batch shape (and cache
    # layout) changes rounding, which can flip a near-tie of this random model's flat logits.
    generator = LocalHFGenerator(tiny_checkpoint, dtype="float32")
    requests = [
        GenerationRequest.chat(
            [{"role": "user", "content": f"Where is order {i}?"}], greedy=True, max_new_tokens=8
        )
        for i in range(4)
    ]
    batcher = RequestBatcher(generator, max_wait_s=0.05)
    futures = [batcher.submit(r) for r in requests]
    assert [f.result(30).text for f in futures] == [generator.generate([r])[0].text for r in requests]
    batcher.close()
