"""Importing support dialogues: personal data is masked before storage, duplicates are skipped, bad rows are
reported, splits are deterministic with a regression set fixed by the first import, and tenants are apart."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import DialogueImport, SupportDialogue
from tests.chat.training_data import bitext_csv, dialogues, jsonl

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/chat/dialogues/import/"
LIST = "/api/v1/chat/dialogues/"

PERSONAL = [
    {
        "intent": "track_order",
        "turns": [
            {
                "role": "customer",
                "text": "Where is order 55812937? Write to jane.doe@example.com or call +44 20 7946 0958.",
            },
            {
                "role": "agent",
                "text": "Order 55812937 left our warehouse; I emailed jane.doe@example.com the tracking link.",
            },
            {
                "role": "customer",
                "text": "Deliver to 221B Baker Street please, my card is 4111 1111 1111 1111.",
            },
            {"role": "agent", "text": "Noted. For card questions call (555) 123-4567."},
        ],
    },
    *dialogues(7),
]
SECRETS = [
    "55812937",
    "jane.doe@example.com",
    "7946 0958",
    "221B Baker Street",
    "4111 1111 1111 1111",
    "123-4567",
]


def post_raw(client, data: bytes, content_type="application/x-ndjson", **query):
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(IMPORT + (f"?{suffix}" if suffix else ""), data=data, content_type=content_type)


def test_personal_data_is_masked_before_anything_is_stored(api_client, merchant):
    response = post_raw(api_client, jsonl(PERSONAL), filename="support.jsonl")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rows_imported"] == 8
    assert body["masked_counts"]["email"] == 2
    assert body["masked_counts"]["order_number"] == 2
    assert body["masked_counts"]["phone"] == 2
    assert body["masked_counts"]["card_number"] == 1
    assert body["masked_counts"]["address"] == 1

    stored = json.dumps(
        list(SupportDialogue.objects.filter(merchant=merchant).values_list("turns", flat=True))
    )
    for secret in SECRETS:
        assert secret not in stored
    tracked = SupportDialogue.objects.get(merchant=merchant, intent="track_order")
    assert tracked.turns[0]["text"].startswith(
        "Where is order [ORDER_NUMBER]? Write to [EMAIL] or call [PHONE]."
    )
    assert [t["role"] for t in tracked.turns] == ["customer", "agent", "customer", "agent"]
    # The report is stored with the import, and the audit log carries no raw personal data either.
    assert DialogueImport.objects.get(pk=body["id"]).masked_counts == body["masked_counts"]


def test_the_bitext_csv_layout_imports_with_intents(api_client, merchant):
    data = bitext_csv(
        [
            (
                "how can I cancel purchase 113542617735902?",
                "cancel_order",
                "I can help you cancel order {{Order Number}}.",
            ),
            (
                "I need to change my shipping address",
                "change_shipping_address",
                "Sure, go to {{Account Settings}}.",
            ),
            ("what is your refund policy", "check_refund_policy", "Refunds are issued within 14 days."),
        ]
    )
    response = post_raw(api_client, data, content_type="text/csv", filename="bitext.csv")
    assert response.status_code == 200, response.json()
    assert response.json()["rows_imported"] == 3
    cancel = SupportDialogue.objects.get(merchant=merchant, intent="cancel_order")
    assert cancel.turns == [
        {"role": "customer", "text": "how can I cancel purchase [ORDER_NUMBER]?"},
        {"role": "agent", "text": "I can help you cancel order {{Order Number}}."},
    ]


def test_uploading_the_same_dialogues_again_adds_nothing(api_client, merchant):
    first = post_raw(api_client, jsonl(dialogues(30))).json()
    # Same content with other spacing and case, plus two new ones: only the new ones are stored.
    again = dialogues(32)
    again[0]["turns"][0]["text"] = "  " + again[0]["turns"][0]["text"].upper() + "  "
    second = post_raw(api_client, jsonl(again)).json()
    assert first["rows_imported"] == 30
    assert (second["rows_imported"], second["duplicates"]) == (2, 30)
    assert SupportDialogue.objects.filter(merchant=merchant).count() == 32


def test_dialogues_differing_only_in_personal_data_are_one_dialogue(api_client, merchant):
    rows = [
        {
            "turns": [
                {"role": "customer", "text": f"Where is order {number}?"},
                {"role": "agent", "text": "On its way."},
            ]
        }
        for number in (55812937, 66120045, 99887766)
    ]
    body = post_raw(api_client, jsonl(rows)).json()
    assert (body["rows_imported"], body["duplicates"]) == (1, 2)


def test_bad_rows_are_reported_and_the_valid_ones_imported(api_client, merchant):
    lines = [
        json.dumps(dialogues(1)[0]),
        "{not json",
        json.dumps({"turns": [{"role": "customer", "text": "Only a question, no reply"}]}),
        json.dumps({"turns": [{"role": "wizard", "text": "hi"}, {"role": "agent", "text": "hello"}]}),
        json.dumps(dialogues(2)[1]),
    ]
    response = post_raw(api_client, "\n".join(lines).encode())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rows_imported"] == 2
    assert sorted(e["row"] for e in body["errors"]) == [2, 3, 4]
    assert all(e["message"] for e in body["errors"])


def test_a_file_with_nothing_valid_answers_400_with_the_report_and_writes_nothing(api_client, merchant):
    lines = ["{not json", json.dumps({"turns": []})]
    response = post_raw(api_client, "\n".join(lines).encode())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "no_valid_dialogues"
    assert len(body["errors"]) == 2
    assert not DialogueImport.objects.filter(merchant=merchant).exists()
    assert not SupportDialogue.objects.filter(merchant=merchant).exists()


def test_an_empty_body_answers_400(api_client):
    assert post_raw(api_client, b"").status_code == 400


def test_an_upload_over_the_limit_answers_413(api_client, merchant, settings):
    settings.CHAT_DIALOGUE_IMPORT_MAX_BYTES = 2000
    response = post_raw(api_client, jsonl(dialogues(40)))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    upload = SimpleUploadedFile("big.jsonl", jsonl(dialogues(40)), content_type="application/x-ndjson")
    assert api_client.post(IMPORT, {"file": upload}, format="multipart").status_code == 413
    assert not SupportDialogue.objects.filter(merchant=merchant).exists()


def test_multipart_upload(api_client, merchant):
    upload = SimpleUploadedFile(
        "dialogues.jsonl", jsonl(dialogues(5)), content_type="application/octet-stream"
    )
    response = api_client.post(IMPORT, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["filename"] == "dialogues.jsonl"
    assert SupportDialogue.objects.filter(merchant=merchant).count() == 5


def test_splits_are_deterministic_and_the_regression_set_is_fixed_by_the_first_import(
    api_client, merchant, make_api_client, other_merchant
):
    first = post_raw(api_client, jsonl(dialogues(200))).json()
    assert first["splits"]["regression"] == 20  # 5% of 200 is 10; at least 20
    regression = set(
        SupportDialogue.objects.filter(merchant=merchant, split="regression").values_list(
            "content_hash", flat=True
        )
    )
    heldout = SupportDialogue.objects.filter(merchant=merchant, split="heldout").count()
    assert 8 <= heldout <= 30  # about 10% of the 180 left

    second = post_raw(api_client, jsonl(dialogues(200, offset=200))).json()
    assert second["rows_imported"] == 200 and second["splits"]["regression"] == 0
    assert (
        set(
            SupportDialogue.objects.filter(merchant=merchant, split="regression").values_list(
                "content_hash", flat=True
            )
        )
        == regression
    )

    # The held-out rule depends on the content only: another merchant's copy lands in the same splits.
    post_raw(make_api_client(other_merchant), jsonl(dialogues(200, offset=200)))
    mine = dict(
        SupportDialogue.objects.filter(merchant=merchant, import_batch=second["id"]).values_list(
            "content_hash", "split"
        )
    )
    theirs = dict(
        SupportDialogue.objects.filter(merchant=other_merchant)
        .exclude(split="regression")
        .values_list("content_hash", "split")
    )
    assert theirs and all(mine[h] == split for h, split in theirs.items())


def test_a_small_first_import_keeps_most_dialogues_for_training(api_client, merchant):
    body = post_raw(api_client, jsonl(dialogues(40))).json()
    assert body["splits"]["regression"] == 10  # at most a quarter of the import


def test_the_list_shows_only_the_merchants_own_dialogues(api_client, outsider_api_client, merchant):
    post_raw(api_client, jsonl(dialogues(6)))
    post_raw(outsider_api_client, jsonl(dialogues(3, offset=50)))
    mine = api_client.get(LIST).json()
    theirs = outsider_api_client.get(LIST).json()
    assert mine["count"] == 6 and theirs["count"] == 3
    assert not {d["id"] for d in mine["results"]} & {d["id"] for d in theirs["results"]}
    assert sum(mine["splits"].values()) == 6
    only_train = api_client.get(LIST, {"split": "train"}).json()
    assert all(d["split"] == "train" for d in only_train["results"])


def test_import_needs_the_write_scope_and_the_list_the_read_scope(make_api_client, merchant):
    read_only = make_api_client(merchant, scopes=("read",))
    assert post_raw(read_only, jsonl(dialogues(3))).status_code == 403
    assert read_only.get(LIST).status_code == 200
    write_only = make_api_client(merchant, scopes=("write",))
    assert write_only.get(LIST).status_code == 403
