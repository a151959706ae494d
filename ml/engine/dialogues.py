"""Uploaded support dialogues: parse them into customer/agent turns and turn them into fine-tuning examples.

Standard library and storyfront.uploads only (the web process parses uploads). Personal data is not masked here: the caller runs
``ml.engine.pii.mask_pii`` over every turn before storing it. Public API:

    DIALOGUE_FORMATS = ("bitext", "turns_jsonl", "turns_csv")
    parse_dialogues(data, *, format=None, filename="") -> ParseResult(dialogues, errors, format)
    dialogue_to_examples(dialogue, *, system_prompt="", max_history_turns=6) -> [{"prompt": [...], "response"}]
    Dialogue(turns=[{"role": "customer"|"agent", "text"}], intent="")

Formats
- "bitext": the Bitext customer-support CSV (columns instruction, response, intent, category, ...): each row is
  one exchange, the instruction from the customer and the response from the agent.
- "turns_jsonl": one JSON object per line, {"turns": [{"role", "text"}], "intent"?}; {"messages": [{"role",
  "content"}]} (the chat-completions shape) is read the same way. A JSON document holding an array of such
  objects, or {"dialogues": [...]}, is accepted too (an upload sent as application/json).
- "turns_csv": columns conversation_id, role, text (and optionally intent); a conversation's rows are read in
  file order, and the conversations are kept in order of first appearance.
Roles customer/user/shopper/client/human are the customer; agent/assistant/bot/staff/support/
representative the agent; "system" turns are skipped. Consecutive turns of one side are joined into one.
With ``format=None`` the format is detected from the file name (.jsonl/.ndjson) or the content (a "{" first,
or the CSV header's columns).

Errors are ``{"row": n, "message": ...}`` and reject only the dialogue they are in. ``row`` is the line in a
JSON-lines file (the item's position in a JSON array) and the CSV record number as a spreadsheet shows it (the
header is row 1); 0 is the file as a whole (not UTF-8, empty, unrecognised format, no header).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from storyfront import uploads

__all__ = ["DIALOGUE_FORMATS", "Dialogue", "ParseResult", "dialogue_to_examples", "parse_dialogues"]

DIALOGUE_FORMATS = ("bitext", "turns_jsonl", "turns_csv")
MAX_TURN_CHARS = 8000
MAX_TURNS = 200
MAX_ERRORS = 1000  # a file of garbage reports this many rows, then one line saying how many more
INTENT_MAX_CHARS = 100

_ROLES = {
    "customer": "customer",
    "user": "customer",
    "shopper": "customer",
    "client": "customer",
    "human": "customer",
    "agent": "agent",
    "assistant": "agent",
    "bot": "agent",
    "staff": "agent",
    "support": "agent",
    "representative": "agent",
    "rep": "agent",
}
_SKIPPED_ROLES = ("system",)
_EXAMPLE_ROLES = {"customer": "user", "agent": "assistant"}
# Names that say JSON; a .csv (or any other) name is read by its content.
_SUFFIX_FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass
class Dialogue:
    turns: list[dict[str, str]]
    intent: str = ""


@dataclass
class ParseResult:
    dialogues: list[Dialogue] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    format: str = ""


class _Rejected(Exception):
    def __init__(self, row: int, message: str):
        super().__init__(message)
        self.row = row
        self.message = message


def parse_dialogues(data: bytes | str, *, format: str | None = None, filename: str = "") -> ParseResult:
    """Parse an upload. An unknown ``format`` name is a ValueError (the caller validates it against
    DIALOGUE_FORMATS); everything wrong with the file itself is reported in ``errors``."""
    if format is not None and format not in DIALOGUE_FORMATS:
        raise ValueError(f"unknown dialogue format {format!r}; expected one of {', '.join(DIALOGUE_FORMATS)}")
    result = ParseResult(format=format or "")
    text = _decode(data, result)
    if text is None:
        return result
    if not text.strip():
        result.errors.append({"row": 0, "message": "the file is empty"})
        return result
    if format is None:
        format = _detect_format(text, filename)
        if format is None:
            result.errors.append(
                {
                    "row": 0,
                    "message": 'unrecognised file: expected JSON lines with "turns", or '
                    "a CSV with columns instruction and response (Bitext) or "
                    "conversation_id, role and text",
                }
            )
            return result
        result.format = format
    parser = {"bitext": _parse_bitext, "turns_jsonl": _parse_jsonl, "turns_csv": _parse_turns_csv}[format]
    parser(text, result)
    if len(result.errors) > MAX_ERRORS:
        hidden = len(result.errors) - MAX_ERRORS
        result.errors = result.errors[:MAX_ERRORS]
        result.errors.append({"row": 0, "message": f"{hidden} more rows had errors"})
    return result


def dialogue_to_examples(
    dialogue: Dialogue | Mapping | Sequence, *, system_prompt: str = "", max_history_turns: int = 6
) -> list[dict]:
    """One ``{"prompt": [chat messages], "response": agent text}`` per agent turn that follows a customer
    turn, in the roles build_chat_messages uses (customer -> user, agent -> assistant): an optional system
    message, up to ``max_history_turns`` earlier turns (as build_chat_messages keeps history_turns before the
    question), then the customer turn the reply answers. Takes a
    Dialogue, a ``{"turns": [...]}`` mapping (SupportDialogue) or the list of turns; the records fit
    ``ml.engine.Example(prompt=tuple(record["prompt"]), response=record["response"])`` and coerce_examples."""
    if isinstance(dialogue, Dialogue):
        turns = dialogue.turns
    elif isinstance(dialogue, Mapping):
        turns = dialogue.get("turns") or []
    else:
        turns = list(dialogue)
    merged: list[dict[str, str]] = []
    for turn in turns:
        role = _ROLES.get(str(turn.get("role", "")).strip().lower())
        text = str(turn.get("text", "") or "").strip()
        if not role or not text:
            continue
        if merged and merged[-1]["role"] == role:
            merged[-1] = {"role": role, "text": merged[-1]["text"] + "\n" + text}
        else:
            merged.append({"role": role, "text": text})
    examples = []
    keep = max(0, int(max_history_turns))
    for i, turn in enumerate(merged):
        if turn["role"] != "agent" or i == 0:
            continue
        window = merged[max(0, i - 1 - keep) : i]
        prompt = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
        prompt += [{"role": _EXAMPLE_ROLES[t["role"]], "content": t["text"]} for t in window]
        examples.append({"prompt": prompt, "response": turn["text"]})
    return examples


# --- decoding and detection ---------------------------------------------------------------------------------


def _decode(data: bytes | str, result: ParseResult) -> str | None:
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes or str")
    try:
        return uploads.decode_upload(bytes(data), detect_charset=False)
    except uploads.UploadError as exc:
        result.errors.append(
            {
                "row": 0,
                "message": f"the file is not UTF-8 text (byte {exc.offset}); save it as "
                f"UTF-8 and upload it again",
            }
        )
        return None


def _detect_format(text: str, filename: str) -> str | None:
    found = uploads.detect_format(filename, text, suffixes=_SUFFIX_FORMATS, refuse_other_suffixes=False)
    if found != "csv":
        return "turns_jsonl"
    header = _header(text)
    if {"instruction", "response"} <= header:
        return "bitext"
    if {"conversation_id", "role", "text"} <= header:
        return "turns_csv"
    return None


def _header(text: str) -> set[str]:
    try:
        first = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return set()
    return {_column(c) for c in first}


def _column(name: str) -> str:
    return re.sub(r"\s+", "_", (name or "").strip().lower())


# --- parsers ------------------------------------------------------------------------------------------------


def _csv_rows(text: str, result: ParseResult, required: Sequence[str]):
    """(row number, {column: value}) for each record; checks the header first."""
    rows = uploads.iter_csv_rows(text)
    try:
        first = next(rows, None)
    except uploads.UploadError as exc:
        result.errors.append({"row": 1, "message": f"the CSV header cannot be read: {exc.detail}"})
        return
    header = [_column(c) for c in first.cells] if first else []
    missing = [c for c in required if c not in header]
    if missing:
        result.errors.append(
            {
                "row": 1,
                "message": "missing column" + ("s" if len(missing) > 1 else "") + ": " + ", ".join(missing),
            }
        )
        return
    try:
        for row_number, _, values in rows:
            if not any(v.strip() for v in values):
                continue
            yield row_number, dict(zip(header, values, strict=False))
    except uploads.UploadError as exc:
        result.errors.append(
            {"row": exc.row, "message": f"the CSV cannot be read from here on: {exc.detail}"}
        )


def _parse_bitext(text: str, result: ParseResult) -> None:
    for row_number, row in _csv_rows(text, result, ("instruction", "response")):
        instruction = (row.get("instruction") or "").strip()
        response = (row.get("response") or "").strip()
        problems = [
            name for name, value in (("instruction", instruction), ("response", response)) if not value
        ]
        if problems:
            result.errors.append({"row": row_number, "message": " and ".join(problems) + " missing"})
            continue
        try:
            turns = _turns(
                [("customer", instruction, row_number, ""), ("agent", response, row_number, "")], row_number
            )
        except _Rejected as rejected:
            result.errors.append({"row": rejected.row, "message": rejected.message})
            continue
        result.dialogues.append(Dialogue(turns=turns, intent=_intent(row.get("intent"))))


def _parse_jsonl(text: str, result: ParseResult) -> None:
    records = _json_document(text)
    if records is not None:
        for number, record in enumerate(records, start=1):
            try:
                result.dialogues.append(_jsonl_dialogue(record, number))
            except _Rejected as rejected:
                result.errors.append({"row": rejected.row, "message": rejected.message})
        return
    for line_number, record, error in uploads.iter_json_rows(text, fmt="jsonl"):
        if error:
            result.errors.append(
                {"row": line_number, "message": f"invalid JSON: {error.detail} (column {error.column})"}
            )
            continue
        try:
            result.dialogues.append(_jsonl_dialogue(record, line_number))
        except _Rejected as rejected:
            result.errors.append({"row": rejected.row, "message": rejected.message})


def _json_document(text: str) -> list | None:
    """The dialogues of a whole-file JSON document: an array of them, {"dialogues": [...]}, or one dialogue
    (on one line or spread over several). None when the file is JSON lines (or not JSON at all)."""
    stripped = text.strip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        document = uploads.load_json(stripped)
    except uploads.UploadError:
        return None
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping) and isinstance(document.get("dialogues"), list):
        return document["dialogues"]
    if isinstance(document, Mapping):
        return [document]
    return None


def _jsonl_dialogue(record, line_number: int) -> Dialogue:
    if not isinstance(record, Mapping):
        raise _Rejected(line_number, 'expected a JSON object with "turns"')
    raw = record.get("turns", record.get("messages"))
    if not isinstance(raw, list) or not raw:
        raise _Rejected(line_number, '"turns" must be a non-empty list of {"role", "text"}')
    items = []
    for position, turn in enumerate(raw, start=1):
        if not isinstance(turn, Mapping):
            raise _Rejected(line_number, f'turn {position} is not an object with "role" and "text"')
        text = turn.get("text", turn.get("content"))
        if text is not None and not isinstance(text, str):
            raise _Rejected(line_number, f"turn {position}: text must be a string")
        items.append((turn.get("role"), text or "", line_number, f"turn {position}: "))
    return Dialogue(turns=_turns(items, line_number), intent=_intent(record.get("intent")))


def _parse_turns_csv(text: str, result: ParseResult) -> None:
    conversations: dict[str, dict] = {}
    for row_number, row in _csv_rows(text, result, ("conversation_id", "role", "text")):
        conversation_id = (row.get("conversation_id") or "").strip()
        if not conversation_id:
            result.errors.append({"row": row_number, "message": "conversation_id missing"})
            continue
        conversation = conversations.setdefault(
            conversation_id, {"first_row": row_number, "rows": [], "intent": ""}
        )
        conversation["rows"].append((row.get("role"), row.get("text") or "", row_number, ""))
        if not conversation["intent"]:
            conversation["intent"] = _intent(row.get("intent"))
    for conversation_id, conversation in conversations.items():
        try:
            turns = _turns(conversation["rows"], conversation["first_row"])
        except _Rejected as rejected:
            result.errors.append(
                {"row": rejected.row, "message": f"conversation {conversation_id}: {rejected.message}"}
            )
            continue
        result.dialogues.append(Dialogue(turns=turns, intent=conversation["intent"]))


def _turns(items, row: int) -> list[dict[str, str]]:
    """Validated turns, consecutive ones of a side joined, from (role, text, error row, label) tuples: a CSV
    turn reports its own row, a JSON-lines turn its line and "turn n: ". ``row`` is the dialogue's row."""
    turns: list[dict[str, str]] = []
    for raw_role, text, error_row, label in items:
        role_name = str(raw_role or "").strip().lower()
        if role_name in _SKIPPED_ROLES:
            continue
        role = _ROLES.get(role_name)
        if role is None:
            raise _Rejected(
                error_row, f"{label}unknown role {role_name or '(empty)'!r}; use customer or agent"
            )
        text = str(text).replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            raise _Rejected(error_row, f"{label}empty text")
        if len(text) > MAX_TURN_CHARS:
            raise _Rejected(error_row, f"{label}text longer than {MAX_TURN_CHARS} characters")
        if turns and turns[-1]["role"] == role:
            turns[-1]["text"] += "\n" + text
        else:
            turns.append({"role": role, "text": text})
    if len(turns) > MAX_TURNS:
        raise _Rejected(row, f"more than {MAX_TURNS} turns")
    if not any(t["role"] == "agent" for t in turns):
        raise _Rejected(row, "no agent turn: a dialogue needs at least one agent reply")
    if not any(t["role"] == "agent" for t in turns[1:]):
        raise _Rejected(row, "no agent reply to a customer turn")
    return turns


def _intent(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()[:INTENT_MAX_CHARS]
