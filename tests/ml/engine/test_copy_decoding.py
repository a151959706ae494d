"""Banned phrases suppressed while decoding (ml.engine.backends.banned_phrases) and the copy studio's lists
(ml.engine.copy_decoding). The tiny random Llama decides what is "invited": a phrase is banned after greedy
decoding wrote it, and the generated ids are checked at the tokenizer level."""

import logging
from collections import Counter

import pytest
import torch

from ml.engine import GenerationParams, GenerationRequest, LocalHFGenerator, OpenAICompatibleGenerator
from ml.engine.backends.banned_phrases import BannedPhrases, surface_forms, token_bans
from ml.engine.copy_decoding import (
    PLACEHOLDERS,
    UNBACKED_CLAIMS,
    VOICE_RULE_PHRASES,
    copy_banned_phrases,
    product_banned_phrases,
    voice_banned_phrases,
)
from ml.engine.verification import voice as voice_module

from .test_generation_openai import FakeServer

PROMPT = "Write a product description for the following item: slim fit denim jeans with five pockets."
SEEDS = range(6)


def chat(text=PROMPT, **params):
    return GenerationRequest.chat([{"role": "user", "content": text}], **{"max_new_tokens": 20, **params})


@pytest.fixture
def generator(tiny_checkpoint):
    return LocalHFGenerator(tiny_checkpoint, max_batch_size=8, dtype="float32")


@pytest.fixture
def recorded(generator, monkeypatch):
    """The generated ids of every row, per model.generate call (the texts alone could hide a banned token
    sequence spelled with other tokens, or show one that the ids do not have)."""
    model = generator.loaded.model
    calls: list[list[list[int]]] = []
    original = model.generate

    def generate(**kwargs):
        output = original(**kwargs)
        calls.append(output[:, kwargs["input_ids"].shape[1] :].tolist())
        return output

    monkeypatch.setattr(model, "generate", generate)
    return calls


def _occurs(sequence, ids) -> bool:
    n = len(sequence)
    return any(tuple(ids[i : i + n]) == tuple(sequence) for i in range(len(ids) - n + 1))


def _round_trip_phrase(tokenizer, ids):
    """(phrase, ids) when decoding ``ids`` gives a word that encodes back to exactly those ids."""
    text = tokenizer.decode(ids)
    if (
        text.strip()
        and tokenizer(text, add_special_tokens=False)["input_ids"] == list(ids)
        and (text == text.strip() or (text.startswith(" ") and text[1:] == text.strip()))
    ):
        return text.strip()
    return None


# --- params ---------------------------------------------------------------------------------------------


def test_banned_phrases_are_validated():
    assert GenerationParams(banned_phrases=["[", "free shipping"]).field_errors() == {}
    assert GenerationParams(banned_phrases=["x"] * 500).field_errors() == {}
    for bad in (["x"] * 501, [""], ["   "], ["x" * 101], [3], "free shipping"):
        assert set(GenerationParams(banned_phrases=bad).field_errors()) == {"banned_phrases"}, bad
    assert GenerationParams(banned_phrases=["a", "b"]).banned_phrases == ("a", "b")


def test_banned_phrases_are_per_request_and_do_not_split_batches():
    one = GenerationParams(banned_phrases=("sale",), seed=1)
    other = GenerationParams(banned_phrases=("Amazon", "!"), seed=2)
    assert one.sampling_key() == other.sampling_key() == GenerationParams().sampling_key()
    hash(one)  # still usable as a key


# --- compiling phrases for a tokenizer ------------------------------------------------------------------


def test_surface_forms():
    assert surface_forms("free shipping") == [
        "free shipping",
        " free shipping",
        "Free shipping",
        " Free shipping",
        "Free Shipping",
        " Free Shipping",
        "FREE SHIPPING",
        " FREE SHIPPING",
    ]
    assert set(surface_forms(" eBay ")) >= {"eBay", " eBay", "ebay", " ebay", "EBay", "EBAY"}
    assert surface_forms("  ") == []


def test_a_character_bans_every_token_containing_it_but_no_special_token(generator):
    tokenizer = generator.loaded.tokenizer
    vocabulary = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    specials = set(tokenizer.all_special_ids)
    for character in (".", "<"):
        bans = token_bans(tokenizer, [character])
        expected = {i for i, text in enumerate(vocabulary) if character in text} - specials
        assert expected and bans.single == expected
        assert not bans.endings
    assert tokenizer.eos_token_id not in token_bans(tokenizer, ["<", "|", ">"]).single
    assert token_bans(tokenizer, [" ", ""]).single == frozenset()


def test_compiled_lists_are_cached_per_tokenizer(generator):
    tokenizer = generator.loaded.tokenizer
    assert token_bans(tokenizer, ["denim", "!"]) is token_bans(tokenizer, ["denim", "!"])


def test_processor_masks_single_tokens_and_finishing_tokens_per_row():
    bans = token_bans_from_ids(single={5}, sequences={(7, 8, 9)})
    processor = BannedPhrases([bans, None], device="cpu")
    # Scores that invite every banned token as strongly as possible.
    scores = torch.zeros((2, 12))
    scores[:, [5, 9]] = 100.0
    out = processor(torch.tensor([[1, 7, 8], [1, 7, 8]]), scores.clone())
    assert out[0, 5] == out[0, 9] == float("-inf")
    assert out[0].argmax() not in (5, 9)
    assert torch.equal(out[1], scores[1])  # the other row bans nothing
    # The last token is banned only right after the phrase's other tokens.
    out = processor(torch.tensor([[7, 8, 3], [0, 0, 0]]), scores.clone())
    assert out[0, 9] == 100.0 and out[0, 5] == float("-inf")


def token_bans_from_ids(single, sequences):
    from ml.engine.backends.banned_phrases import TokenBans

    endings: dict = {}
    for s in sequences:
        endings.setdefault(s[-2], []).append((s[:-1], s[-1]))
    return TokenBans(frozenset(single), {k: tuple(v) for k, v in endings.items()})


# --- decoding with the tiny model -----------------------------------------------------------------------


def test_a_banned_single_token_never_appears(generator, recorded):
    tokenizer = generator.loaded.tokenizer
    free = generator.generate([chat(greedy=True)])[0]
    generated = recorded[-1][0]
    phrase, token = next(
        (p, t)
        for t, _ in Counter(generated).most_common()
        if (p := _round_trip_phrase(tokenizer, [t])) and len(p) > 1
    )
    assert free.completion_tokens > 0
    banned = token_bans(tokenizer, [phrase])
    assert token in banned.single
    requests = [chat(greedy=True, banned_phrases=[phrase])] + [
        chat(seed=s, temperature=1.0, banned_phrases=[phrase]) for s in SEEDS
    ]
    recorded.clear()
    generator.generate(requests)
    rows = [ids for call in recorded for ids in call]
    assert len(rows) == len(requests)
    assert not any(set(ids) & banned.single for ids in rows)


def test_a_banned_multi_token_phrase_is_never_finished(generator, recorded):
    """The phrase is one the model writes when free to (greedy), so the prompt invites it; banned, neither
    greedy nor sampled decoding ever produces any of its forms' token sequences."""
    tokenizer = generator.loaded.tokenizer
    generator.generate([chat(greedy=True, max_new_tokens=40)])
    generated = recorded[-1][0]
    phrase = next(
        p
        for i in range(len(generated) - 1)
        if (p := _round_trip_phrase(tokenizer, generated[i : i + 2]))
        and generated[i + 1] not in token_bans(tokenizer, [p]).single
    )
    banned = token_bans(tokenizer, [phrase])
    sequences = [tuple(tokenizer(f, add_special_tokens=False)["input_ids"]) for f in surface_forms(phrase)]
    sequences = [s for s in sequences if len(s) > 1]
    assert sequences and banned.endings
    assert any(_occurs(s, generated) for s in sequences)  # written when not banned

    prompt_ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, tokenize=False
    )
    prompt_ids = tokenizer(prompt_ids, add_special_tokens=False)["input_ids"]
    requests = [chat(greedy=True, max_new_tokens=40, banned_phrases=[phrase])] + [
        chat(seed=s, temperature=1.0, max_new_tokens=40, banned_phrases=[phrase]) for s in SEEDS
    ]
    recorded.clear()
    generator.generate(requests)
    for ids in (ids for call in recorded for ids in call):
        tail = prompt_ids[-4:] + ids
        # Any occurrence that ends in the generated part would be a failure (the prompt may hold the phrase).
        assert not any(
            tuple(tail[i : i + len(s)]) == s and i + len(s) > 4
            for s in sequences
            for i in range(len(tail) - len(s) + 1)
        ), phrase


def test_rows_with_different_lists_share_one_batch(generator, recorded):
    tokenizer = generator.loaded.tokenizer
    generator.generate([chat(greedy=True)])
    free_ids = recorded[-1][0]
    phrase = next(p for t in free_ids if (p := _round_trip_phrase(tokenizer, [t])) and len(p) > 1)
    banned_ids = token_bans(tokenizer, [phrase]).single

    recorded.clear()
    free, banned, other = generator.generate(
        [
            chat(greedy=True),
            chat(greedy=True, banned_phrases=[phrase]),
            chat(greedy=True, banned_phrases=["zz"]),
        ]
    )
    assert len(recorded) == 1 and len(recorded[0]) == 3  # one model call for the three rows
    assert not set(recorded[0][1]) & banned_ids
    assert set(free_ids) & banned_ids
    # Each row decodes as it would alone: its neighbours' lists do not leak into it.
    assert free.text == generator.generate([chat(greedy=True)])[0].text
    assert banned.text == generator.generate([chat(greedy=True, banned_phrases=[phrase])])[0].text
    assert banned.text != free.text


def test_stream_applies_the_ban_too(generator, recorded):
    tokenizer = generator.loaded.tokenizer
    free = generator.generate([chat(greedy=True)])[0].text
    phrase = next(p for t in recorded[-1][0] if (p := _round_trip_phrase(tokenizer, [t])) and len(p) > 1)
    request = chat(greedy=True, banned_phrases=[phrase])
    streamed = "".join(generator.stream(request))
    assert streamed == generator.generate([request])[0].text
    assert streamed != free


def test_the_openai_backend_sends_no_banned_phrases(caplog):
    from ml.engine.backends import openai_compat

    server = FakeServer()
    try:
        client = OpenAICompatibleGenerator(server.url, "m", allow_private=True, timeout_s=2)
        openai_compat._told_banned_phrases_ignored = False
        with caplog.at_level(logging.DEBUG, logger="ml.engine.backends.openai_compat"):
            results = client.generate([chat(banned_phrases=["Amazon", "!"]), chat(banned_phrases=["sale"])])
        assert all(r.text.startswith("Reply to:") for r in results)
        for _, body in server.requests:
            assert not {"banned_phrases", "logit_bias", "bad_words"} & set(body)
            assert "Amazon" not in str({k: v for k, v in body.items() if k != "messages"})
        notes = [r for r in caplog.records if "banned_phrases" in r.getMessage()]
        assert len(notes) == 1 and notes[0].levelno == logging.DEBUG
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# --- the copy studio's lists ----------------------------------------------------------------------------

SHIRT = {
    "title": "Roadster Men Navy Blue Cotton Shirt",
    "brand": "Roadster",
    "category": "Shirts",
    "description": "A navy cotton shirt with a spread collar.",
    "attributes": {"Fit": "Slim"},
}


def test_every_product_gets_placeholders_and_unbacked_claims_banned():
    banned = product_banned_phrases(SHIRT)
    assert set(PLACEHOLDERS) <= set(banned)
    assert {
        "amazon",
        "flipkart",
        "ebay",
        "walmart",
        "free shipping",
        "buy one",
        "BOGO",
        "% off",
        "sale",
        "warranty",
        "No. 1",
        "dermatologist",
        "Dr.",
        "order now at",
    } <= set(banned)
    assert "target" not in banned  # an everyday word as well as a shop
    assert set(banned) == set(PLACEHOLDERS + UNBACKED_CLAIMS)


def test_a_phrase_in_the_products_own_facts_is_not_banned_for_it():
    product = {
        **SHIRT,
        "title": "Award Organic Cotton Tee [Pack of 2]",
        "description": "Free shipping across India. Sold wholesale. GOTS Certified organic cotton.",
        "attributes": {"Warranty": "6 months", "Note": "Discounted line"},
    }
    banned = set(product_banned_phrases(product))
    lifted = {"free shipping", "certified", "warranty", "award", "discount", "discounted", "[", "]"}
    assert not banned & lifted
    assert "sale" in banned  # "wholesale" does not back "sale"
    assert {"free shipping", "certified", "warranty", "award", "[", "]"} <= set(product_banned_phrases(SHIRT))


def test_exclamation_marks_are_banned_only_under_a_voice_that_forbids_them():
    assert "!" not in copy_banned_phrases(SHIRT, None)
    assert "!" not in copy_banned_phrases(SHIRT, {"dont": ["Invent sizes"], "banned_words": []})
    rules = ("Never use exclamation marks", "Don't use exclamation marks!", "Exclamation marks", 'No "!"')
    for rule in rules:
        assert "!" in copy_banned_phrases(SHIRT, {"dont": [rule]}), rule
    # The voice's bans hold even where the facts use the word: the voice check blocks it regardless.
    loud = {**SHIRT, "title": "Wow! Shirt"}
    assert "!" in copy_banned_phrases(loud, {"dont": ["Never use exclamation marks"]})


def test_voice_banned_words_and_quoted_words_are_banned():
    banned = voice_banned_phrases(
        ['Don\'t say "cheap"', "Never mention 'bargain'", "No hurrying the reader"],
        ["steal", " ", "x" * 101],
    )
    assert {"cheap", "bargain", "steal", "hurry", "limited time"} <= set(banned)
    assert "t say " not in banned and " " not in banned and "x" * 101 not in banned


def test_every_voice_rule_has_a_decision():
    labels = {label for _, label, _ in voice_module._CHECKS}
    assert labels == set(VOICE_RULE_PHRASES)


def test_the_list_respects_the_params_limit():
    voice = {"dont": ["Never mention other shops"], "banned_words": [f"word{i}" for i in range(600)]}
    banned = copy_banned_phrases(SHIRT, voice)
    assert len(banned) == 500 and GenerationParams(banned_phrases=banned).field_errors() == {}
