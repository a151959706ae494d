"""Grounding checks on generated copy, beyond the facts: channel limits, degenerate text and banned words, the
report's round trip, and the benchmark helpers. Pure Python: no database, no model."""

import json

import pytest

from ml.engine.grounding import (
    CHANNEL_FIELDS,
    CHANNEL_LIMITS,
    CHANNELS,
    Claim,
    GroundingReport,
    check_copy,
    distinct_n,
    duplicate_rate,
    hashtag_list,
)
from tests.ml.engine.grounding_data import BOTTLE, body

# --- channel limits -------------------------------------------------------------------------------------


def test_channels_and_limits_are_published():
    assert CHANNELS == ("product_description", "email", "sms", "social_post", "ad_headline")
    assert set(CHANNEL_LIMITS) == set(CHANNEL_FIELDS) == set(CHANNELS)
    assert CHANNEL_LIMITS["sms"]["body"]["max_chars"] == 160


def test_sms_over_160_characters_violates():
    assert body("a" * 160).channel_violations == []
    report = body("a" * 161)
    assert report.channel_violations == ["body is 161 characters; sms allows at most 160"]
    assert not report.approvable


@pytest.mark.parametrize(
    "channel, fields, expected",
    [
        (
            "email",
            {"subject": "x" * 61, "body": "Hello"},
            "subject is 61 characters; email allows at most 60",
        ),
        ("email", {"body": "Hello"}, "subject is required for email"),
        ("ad_headline", {"body": "x" * 41}, "body is 41 characters; ad_headline allows at most 40"),
        (
            "product_description",
            {"title": "t" * 121, "body": "b" * 60},
            ("title is 121 characters; product_description allows at most 120"),
        ),
        (
            "product_description",
            {"title": "T", "body": "Too short."},
            ("body is 10 characters; product_description needs at least 50"),
        ),
        (
            "product_description",
            {"body": "b" * 1201},
            "body is 1201 characters; product_description allows at most 1200",
        ),
        ("social_post", {"body": "x" * 281}, "body is 281 characters; social_post allows at most 280"),
        (
            "social_post",
            {"body": "Hi #a #b", "hashtags": "#c #d #e #f"},
            "6 hashtags; social_post allows at most 5",
        ),
    ],
)
def test_channel_limits(channel, fields, expected):
    assert expected in check_copy(fields, BOTTLE, channel=channel).channel_violations


def test_hashtags_are_counted_with_or_without_the_hash_sign():
    assert hashtag_list("#hydra #trail_life, #cold") == ["#hydra", "#trail_life", "#cold"]
    assert hashtag_list("hydra, trail life") == ["hydra", "trail", "life"]
    assert hashtag_list("") == []


def test_a_headline_stored_as_title_is_measured_as_the_headline():
    assert check_copy({"title": "Cold for 24 hours"}, BOTTLE, channel="ad_headline").channel_violations == []


def test_unknown_channel_is_an_error():
    with pytest.raises(ValueError, match="unknown channel"):
        check_copy({"body": "x"}, BOTTLE, channel="fax")


# --- degenerate output and banned words -----------------------------------------------------------------


def test_empty_copy():
    report = check_copy({"body": "  "}, BOTTLE, channel="sms")
    assert report.degenerate == ["the copy is empty"]
    assert report.channel_violations == ["body is required for sms"]


def test_repeated_ngrams_are_degenerate():
    text = "Stay cool all day. Stay cool all day. Stay cool all day with Hydra."
    assert any(d.startswith("repeated words in body: 'Stay cool all day.'") for d in body(text).degenerate)
    assert any(
        "repeated phrase in body: 'keeps it cold all' 3 times" == d
        for d in body(
            "Hydra keeps it cold all day, keeps it cold all night and keeps it cold all week."
        ).degenerate
    )
    assert body("Stay cool all day with Hydra. Stay warm all night.").degenerate == []


def test_repeated_token_runs_are_degenerate():
    assert any(d.startswith("repeated words") for d in body("Hydra is so so so so cold").degenerate)
    assert any(d.startswith("repeated words") for d in body("buy now buy now buy now").degenerate)
    assert body("Hydra is so so good").degenerate == []


def test_shouting_is_degenerate_but_capitalised_names_are_not():
    assert body("HYDRA KEEPS YOUR WATER COLD ALL DAY LONG").degenerate == [
        "body is mostly in capital letters"
    ]
    assert body("DKNY and HYDRA: cold water all day long, for every trail.").degenerate == []


def test_prompt_echo_is_degenerate():
    prompt = (
        "You are a copywriter for an online store. Use only the product facts you are given. "
        "Product facts: Name: Hydra Insulated Bottle 750ml. Brand: Hydra."
    )
    echo = "You are a copywriter for an online store. Use only the product facts you are given."
    assert any("echoes the prompt" in d for d in body(echo, prompt=prompt).degenerate)
    assert (
        body("Cold water for every trail: the Hydra keeps it icy all day long.", prompt=prompt).degenerate
        == []
    )
    # A subject or title may repeat the product's name from the prompt.
    subject = {"subject": "Use only the product facts you are given", "body": "Hi, meet the Hydra bottle."}
    assert check_copy(subject, BOTTLE, channel="email", prompt=prompt).degenerate == []


@pytest.mark.parametrize(
    "residue",
    ["<|im_start|>", "<|im_end|>", "Assistant: ", "[PRODUCT]", "[Your Name]", "{product_name}", "<b>", "**"],
)
def test_chat_template_and_placeholder_residue_is_degenerate(residue):
    report = body(f"{residue}Cold drinks all day with Hydra.")
    assert any(
        d.startswith(("template or markup left in body", "placeholder left in body"))
        for d in report.degenerate
    )
    assert not report.approvable  # a shopper would see it: it must be edited out first


def test_banned_words_are_whole_words_or_phrases_any_case():
    report = body(
        "A CHEAP thrill? Not this one. Great deals for real go-getters.",
        banned_words=["cheap", "deal", "real go-getters", "thrills", "unused"],
    )
    assert report.banned == ["cheap", "deal", "real go-getters"]
    assert not report.approvable
    # Whole words only: banning "cheap" does not ban "cheapest" (a brand that means it lists it).
    assert body("Our cheapest option.", banned_words=["cheap"]).banned == []


# --- the report -----------------------------------------------------------------------------------------


def test_report_round_trips_through_json():
    report = check_copy(
        {"subject": "Now $19.99!", "body": "Leather strap. Buy buy buy buy now."},
        BOTTLE,
        channel="email",
        banned_words=["buy"],
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False and data["approvable"] is False
    assert data["unsupported"][0] == {
        "text": "$19.99",
        "kind": "price",
        "field": "subject",
        "start": 4,
        "end": 10,
        "reason": "the product price is 24.90 USD",
    }
    again = GroundingReport.from_dict(data)
    assert again == report
    assert isinstance(again.unsupported[0], Claim)


def test_empty_report_passes():
    report = GroundingReport()
    assert report.passed and report.approvable
    assert GroundingReport.from_dict(report.to_dict()) == report


# --- benchmark helpers ----------------------------------------------------------------------------------


def test_distinct_n_and_duplicate_rate():
    assert distinct_n(["a b c", "a b d"], n=2) == 3 / 4
    assert distinct_n([], n=2) == 0.0
    assert distinct_n(["same text"] * 4, n=1) == 2 / 8
    assert duplicate_rate(["Hello, world!", "hello world", "Another one", "another ONE."]) == 0.5
    assert duplicate_rate([]) == 0.0
