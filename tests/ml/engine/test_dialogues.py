"""Parsing uploaded support dialogues (Bitext CSV, turns JSON lines, turns CSV) and turning them into
fine-tuning examples. Pure Python: no database, no model."""

import json
from pathlib import Path

import pytest

from ml.engine.dialogues import (
    DIALOGUE_FORMATS,
    MAX_TURN_CHARS,
    Dialogue,
    ParseResult,
    dialogue_to_examples,
    parse_dialogues,
)
from ml.engine.finetune.data import Example, coerce_examples

BITEXT = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "datasets"
    / "bitext_customer_support"
    / "bitext_customer_support_training.csv"
)

BITEXT_SAMPLE = (
    "context,role,instruction,intent,entity_type,entity_value,start_offset,end_offset,category,tags,response\n"
    "customer support,virtual assistant,how can I cancel purchase 113542617735902?,cancel_order,order_id,"
    '113542617735902,26,41,ORDER,BIL,"I understand. To cancel order {{Order Number}}:\r\n\r\n1. Log in.\r\n2. '
    'Press {{Cancel Order}}."\n'
    "customer support,virtual assistant,where is my refund,track_refund,,,,,REFUND,B,\n"
    "customer support,virtual assistant,,get_invoice,,,,,INVOICE,B,Here is how to get your invoice.\n"
    "customer support,virtual assistant,I want a human,contact_human_agent,,,,,CONTACT,B,I'll connect you.\n"
)


def jsonl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def test_bitext_rows_become_one_exchange_each_and_bad_rows_are_reported():
    result = parse_dialogues(BITEXT_SAMPLE.encode("utf-8"))
    assert isinstance(result, ParseResult)
    assert result.format == "bitext"
    assert [d.intent for d in result.dialogues] == ["cancel_order", "contact_human_agent"]
    first = result.dialogues[0]
    assert first.turns == [
        {"role": "customer", "text": "how can I cancel purchase 113542617735902?"},
        {
            "role": "agent",
            "text": "I understand. To cancel order {{Order Number}}:\n\n1. Log in.\n2. Press "
            "{{Cancel Order}}.",
        },
    ]
    assert result.errors == [
        {"row": 3, "message": "response missing"},
        {"row": 4, "message": "instruction missing"},
    ]


def test_utf8_bom_and_str_input_are_accepted():
    with_bom = parse_dialogues(b"\xef\xbb\xbf" + BITEXT_SAMPLE.encode("utf-8"))
    as_text = parse_dialogues(BITEXT_SAMPLE)
    assert len(with_bom.dialogues) == len(as_text.dialogues) == 2


def test_turns_jsonl_with_role_aliases_merging_and_system_turns():
    data = jsonl(
        {
            "turns": [
                {"role": "user", "text": "Hi"},
                {"role": "shopper", "text": "my parcel is late"},
                {"role": "Support", "text": "Sorry! What is the order number?"},
                {"role": "customer", "text": "12345678"},
                {"role": "bot", "text": "Thanks, checking."},
            ],
            "intent": "track_order",
        },
        {
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": "refund?"},
                {"role": "assistant", "content": "Refunds take 5 days."},
            ]
        },
        "",
    )
    result = parse_dialogues(data, filename="support.jsonl")
    assert result.format == "turns_jsonl" and result.errors == []
    assert result.dialogues[0] == Dialogue(
        turns=[
            {"role": "customer", "text": "Hi\nmy parcel is late"},
            {"role": "agent", "text": "Sorry! What is the order number?"},
            {"role": "customer", "text": "12345678"},
            {"role": "agent", "text": "Thanks, checking."},
        ],
        intent="track_order",
    )
    assert result.dialogues[1].turns == [
        {"role": "customer", "text": "refund?"},
        {"role": "agent", "text": "Refunds take 5 days."},
    ]


def test_turns_jsonl_errors_name_the_line_and_the_problem():
    data = jsonl(
        {"turns": [{"role": "customer", "text": "ok"}, {"role": "agent", "text": "fine"}]},
        "{not json",
        {"turns": [{"role": "customer", "text": "hi"}, {"role": "wizard", "text": "abracadabra"}]},
        {"turns": [{"role": "customer", "text": "hello?"}, {"role": "customer", "text": "anyone?"}]},
        {"turns": [{"role": "customer", "text": "hi"}, {"role": "agent", "text": "   "}]},
        {"turns": []},
        ["a", "list"],
        {"turns": [{"role": "agent", "text": "Welcome!"}]},
        {"turns": [{"role": "customer", "text": 42}, {"role": "agent", "text": "ok"}]},
    )
    result = parse_dialogues(data)
    assert len(result.dialogues) == 1
    messages = {e["row"]: e["message"] for e in result.errors}
    assert messages[2].startswith("invalid JSON:")
    assert messages[3] == "turn 2: unknown role 'wizard'; use customer or agent"
    assert messages[4] == "no agent turn: a dialogue needs at least one agent reply"
    assert messages[5] == "turn 2: empty text"
    assert messages[6] == '"turns" must be a non-empty list of {"role", "text"}'
    assert messages[7] == 'expected a JSON object with "turns"'
    assert messages[8] == "no agent reply to a customer turn"
    assert messages[9] == "turn 1: text must be a string"


def test_turns_csv_groups_rows_by_conversation_in_order():
    data = (
        "conversation_id,role,text,intent\n"
        "c1,customer,Where is my order?,track_order\n"
        "c2,customer,Do you ship to Canada?,\n"
        "c1,agent,It ships tomorrow.,\n"
        "c2,agent,Yes we do.,delivery_options\n"
        "c1,customer,thanks,\n"
        ",agent,orphan,\n"
        "c3,customer,hello,\n"
        "c3,robot,beep,\n"
        "c4,customer,hi,\n"
    )
    result = parse_dialogues(data, filename="dialogues.csv")
    assert result.format == "turns_csv"
    assert [d.turns for d in result.dialogues] == [
        [
            {"role": "customer", "text": "Where is my order?"},
            {"role": "agent", "text": "It ships tomorrow."},
            {"role": "customer", "text": "thanks"},
        ],
        [{"role": "customer", "text": "Do you ship to Canada?"}, {"role": "agent", "text": "Yes we do."}],
    ]
    assert [d.intent for d in result.dialogues] == ["track_order", "delivery_options"]
    assert result.errors == [
        {"row": 7, "message": "conversation_id missing"},
        {"row": 9, "message": "conversation c3: unknown role 'robot'; use customer or agent"},
        {"row": 10, "message": "conversation c4: no agent turn: a dialogue needs at least one agent reply"},
    ]


def test_explicit_format_and_missing_columns():
    result = parse_dialogues("conversation_id,speaker,text\nc1,customer,hi\n", format="turns_csv")
    assert result.format == "turns_csv"
    assert result.dialogues == []
    assert result.errors == [{"row": 1, "message": "missing column: role"}]
    bitext = parse_dialogues("question,answer\nhi,hello\n", format="bitext")
    assert bitext.errors == [{"row": 1, "message": "missing columns: instruction, response"}]
    with pytest.raises(ValueError, match="unknown dialogue format"):
        parse_dialogues("x", format="excel")


def test_unreadable_csv_stops_at_its_row_and_keeps_what_came_before():
    text = "instruction,response\nhi,hello\n\nok," + "x" * 200_000 + "\n"
    result = parse_dialogues(text)
    assert result.format == "bitext" and len(result.dialogues) == 1
    assert result.errors == [
        {"row": 4, "message": "the CSV cannot be read from here on: field larger than field limit (131072)"}
    ]


def test_not_utf8_names_the_byte():
    assert parse_dialogues(b'{"turns": []}\n\xff').errors == [
        {"row": 0, "message": "the file is not UTF-8 text (byte 14); save it as UTF-8 and upload it again"}
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xff\xfe\x00h\x00i", "the file is not UTF-8 text"),
        (b"", "the file is empty"),
        ("   \n\n", "the file is empty"),
        ("name,email\nann,a@b.co\n", "unrecognised file"),
    ],
)
def test_whole_file_problems_are_row_0(data, message):
    result = parse_dialogues(data)
    assert result.dialogues == []
    assert len(result.errors) == 1 and result.errors[0]["row"] == 0
    assert result.errors[0]["message"].startswith(message)


def test_overlong_turns_are_rejected_and_errors_are_capped():
    long_turn = jsonl(
        {"turns": [{"role": "customer", "text": "x" * (MAX_TURN_CHARS + 1)}, {"role": "agent", "text": "ok"}]}
    )
    assert parse_dialogues(long_turn).errors == [
        {"row": 1, "message": f"turn 1: text longer than {MAX_TURN_CHARS} characters"}
    ]
    garbage = "\n".join("{oops" for _ in range(1500))
    errors = parse_dialogues(garbage).errors
    assert len(errors) == 1001
    assert errors[-1] == {"row": 0, "message": "500 more rows had errors"}


def test_examples_one_per_agent_turn_with_history_and_system_prompt():
    dialogue = Dialogue(
        turns=[
            {"role": "agent", "text": "Welcome!"},
            {"role": "customer", "text": "Where is my order?"},
            {"role": "agent", "text": "What is the order number?"},
            {"role": "customer", "text": "[ORDER_NUMBER]"},
            {"role": "agent", "text": "Thanks, a person will check it."},
        ]
    )
    examples = dialogue_to_examples(dialogue, system_prompt="You are Nora.", max_history_turns=1)
    assert examples == [
        {
            "prompt": [
                {"role": "system", "content": "You are Nora."},
                {"role": "assistant", "content": "Welcome!"},
                {"role": "user", "content": "Where is my order?"},
            ],
            "response": "What is the order number?",
        },
        {
            "prompt": [
                {"role": "system", "content": "You are Nora."},
                {"role": "assistant", "content": "What is the order number?"},
                {"role": "user", "content": "[ORDER_NUMBER]"},
            ],
            "response": "Thanks, a person will check it.",
        },
    ]
    no_system = dialogue_to_examples(dialogue, max_history_turns=10)
    assert no_system[1]["prompt"][0] == {"role": "assistant", "content": "Welcome!"}
    assert [m["role"] for m in no_system[1]["prompt"]] == ["assistant", "user", "assistant", "user"]
    only_question = dialogue_to_examples(dialogue, max_history_turns=0)
    assert [e["prompt"] for e in only_question] == [
        [{"role": "user", "content": "Where is my order?"}],
        [{"role": "user", "content": "[ORDER_NUMBER]"}],
    ]


def test_examples_from_stored_turns_feed_the_finetuning_examples():
    stored = {
        "turns": [{"role": "customer", "text": "refund?"}, {"role": "agent", "text": "5 days."}],
        "intent": "get_refund",
    }
    records = dialogue_to_examples(stored) * 10
    examples = coerce_examples(records, min_examples=1)
    assert examples[0] == Example(prompt=({"role": "user", "content": "refund?"},), response="5 days.")
    assert dialogue_to_examples(stored["turns"]) == dialogue_to_examples(stored)


def test_formats_constant():
    assert DIALOGUE_FORMATS == ("bitext", "turns_jsonl", "turns_csv")


def test_the_real_bitext_file():
    if not BITEXT.exists():
        print(f"skipped: the Bitext data set is not at {BITEXT.resolve()}")
        pytest.skip(f"the Bitext data set is not at {BITEXT.resolve()}")
    result = parse_dialogues(BITEXT.read_bytes(), filename=BITEXT.name)
    assert result.format == "bitext"
    assert result.errors == []
    assert len(result.dialogues) == 4514
    assert len({d.intent for d in result.dialogues}) == 27
    assert all([t["role"] for t in d.turns] == ["customer", "agent"] for d in result.dialogues)
    assert sum("{{" in d.turns[1]["text"] for d in result.dialogues) > 2500  # template slots kept as they are
    examples = [e for d in result.dialogues[:50] for e in dialogue_to_examples(d)]
    assert len(examples) == 50


def test_a_json_document_of_dialogues_is_read_like_json_lines():
    one = {
        "turns": [{"role": "customer", "text": "hi"}, {"role": "agent", "text": "hello"}],
        "intent": "greet",
    }
    bad = {"turns": [{"role": "customer", "text": "hi"}]}
    as_array = parse_dialogues(json.dumps([one, bad, one], indent=2).encode(), filename="upload.json")
    assert as_array.format == "turns_jsonl"
    assert len(as_array.dialogues) == 2 and as_array.dialogues[0].intent == "greet"
    assert as_array.errors == [
        {"row": 2, "message": "no agent turn: a dialogue needs at least one agent reply"}
    ]
    wrapped = parse_dialogues(json.dumps({"dialogues": [one]}), filename="upload.json")
    assert [d.turns for d in wrapped.dialogues] == [one["turns"]]
    pretty_single = parse_dialogues(json.dumps(one, indent=2))
    assert len(pretty_single.dialogues) == 1 and pretty_single.errors == []
