"""The grounding checker measured against labels made by reading (bench/grounding/).

    .venv/bin/python bench/grounding_eval.py [--no-write] [--baseline-ref 1c596dd]

For every labelled copy piece it runs `ml.engine.grounding.check_copy` (with the brand voice the piece was
written under) and compares what it finds with what the labels say a reader found:

- **approvable pieces** (the checker finds nothing, so "Approve all passing" would approve them): how many,
  and the share that carry a labelled defect a shopper would see: an unsupported claim (including a wrong
  product type, colour or material), a contradiction or a placeholder (the issue's aim: <= 2%), and the share
  with any labelled defect at all;
- **recall per labelled defect kind**: of the pieces labelled with that kind, the share the checker blocks;
  for kinds with a span, also the share of labelled spans that a checker finding overlaps;
- **precision per checker finding category**: of the checker's findings of that category, the share that
  point at a labelled defect (a labelled span they overlap, or for findings without a span, a labelled
  defect of the matching kind in the piece); and piece-level precision (blocked pieces that have any
  labelled defect);
- speed: milliseconds per piece.

The labelled set is split in two by product (a hash of the product reference): the **dev** half was looked
at while the verifier's vocabulary was written, the **test** half was not; figures are given for both and
the aims are judged on the test half. With ``--baseline-ref`` the checker as it was at that commit is run on
the same pieces beside the current one (read from git, nothing is checked out).

Writes bench/results/grounding_eval.json and the "Grounding checker vs labels" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchmarks_md import write_section
from bench.grounding_data import BRAND_VOICES, COPY_PIECES, GROUNDING_DIR, products_by_ref

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
RESULTS_JSON = ROOT / "bench" / "results" / "grounding_eval.json"
SECTION = "## Grounding checker vs labels"
LABEL_KINDS = (
    "unsupported",
    "wrong_type",
    "wrong_colour",
    "wrong_material",
    "contradiction",
    "placeholder",
    "truncated",
    "repetition",
    "voice",
    "empty",
    "incoherent",
)
# What a shopper would see as untrue or broken: the aim counts these in approvable pieces.
SHOPPER_VISIBLE = {
    "unsupported",
    "wrong_type",
    "wrong_colour",
    "wrong_material",
    "contradiction",
    "placeholder",
}
# Checker categories without a span, and the labelled kinds that make them right.
UNSPANNED = {
    "placeholder": {"placeholder"},
    "truncation": {"truncated"},
    "repetition": {"repetition"},
    "voice": {"voice"},
    "empty": {"empty"},
    "channel": {"empty", "truncated", "incoherent", "repetition"},
    "markup": {"placeholder", "incoherent"},
    "echo": {"incoherent", "repetition"},
    "capitals": {"incoherent", "voice"},
}


def load_labels(pattern: str = "part-*.jsonl") -> dict[str, dict]:
    """Copy labels by piece id: the first labelled set's parts by default (``studio-*.jsonl`` for the studio's
    pieces; ``chat-*`` files hold chat labels, another schema)."""
    labels = {}
    for path in sorted((GROUNDING_DIR / "labels").glob(pattern)):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = row
    return labels


def split_of(product_ref: str) -> str:
    return "dev" if int(hashlib.sha1(product_ref.encode()).hexdigest(), 16) % 2 == 0 else "test"


def _degenerate_category(message: str) -> str:
    if message.startswith("placeholder"):
        return "placeholder"
    if "mid-sentence" in message:
        return "truncation"
    if message.startswith("repeated"):
        return "repetition"
    if "echoes" in message:
        return "echo"
    if "capital" in message:
        return "capitals"
    if "empty" in message:
        return "empty"
    return "markup"


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _quoted_spans(message: str, fields: dict) -> list[tuple[str, int, int]]:
    """Where the texts a degenerate-text message quotes (as Python reprs) sit in the piece's fields."""
    spans = []
    for literal in _QUOTED.findall(message):
        try:
            quoted = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            continue
        for name, text in fields.items():
            at = (text or "").find(quoted) if quoted else -1
            if at >= 0:
                spans.append((name, at, at + len(quoted)))
                break
    return spans


def findings_of(report: dict, fields: dict | None = None) -> list[dict]:
    """The checker's findings as (category, field, start, end); a degenerate-text message gets the spans of
    the texts it quotes, when ``fields`` are given."""
    out = []
    for claim in report.get("unsupported", []):
        out.append(
            {
                "category": claim["kind"],
                "field": claim["field"],
                "start": claim["start"],
                "end": claim["end"],
                "text": claim["text"],
            }
        )
    for message in report.get("degenerate", []):
        category = _degenerate_category(message)
        spans = _quoted_spans(message, fields or {})
        for name, start, end in spans:
            out.append({"category": category, "field": name, "start": start, "end": end, "text": message})
        if not spans:
            out.append({"category": category, "field": None, "start": None, "end": None, "text": message})
    for message in report.get("channel_violations", []):
        category = "empty" if "required" in message else "channel"
        out.append({"category": category, "field": None, "start": None, "end": None, "text": message})
    for word in report.get("banned", []):
        out.append({"category": "voice", "field": None, "start": None, "end": None, "text": word})
    return out


def _label_spans(piece: dict, label: dict) -> list[dict]:
    spans = []
    for defect in label["defects"]:
        field, span = defect.get("field"), defect.get("span") or ""
        text = piece["fields"].get(field) or ""
        start = text.find(span) if span else -1
        spans.append(
            {
                **defect,
                "start": start if start >= 0 else None,
                "end": start + len(span) if start >= 0 else None,
            }
        )
    return spans


def _overlaps(finding: dict, defect: dict) -> bool:
    return (
        finding["field"] == defect.get("field")
        and defect["start"] is not None
        and finding["start"] < defect["end"]
        and defect["start"] < finding["end"]
    )


def evaluate(pieces, labels, products, check, *, timed: bool = True) -> dict:
    by_split: dict[str, dict] = {}
    timings = []
    per_piece = []
    for piece in pieces:
        label = labels.get(piece["id"])
        product = products.get(piece["product"])
        if label is None or product is None:
            continue
        voice = BRAND_VOICES[piece["voice"]]
        fields = {k: v for k, v in piece["fields"].items() if v}
        started = time.perf_counter()
        report = check(
            fields, product, channel=piece["channel"], banned_words=voice["banned_words"], brand_voice=voice
        ).to_dict()
        timings.append((time.perf_counter() - started) * 1000)
        per_piece.append((piece, label, report))
    for name in ("dev", "test", "all"):
        rows = [r for r in per_piece if name == "all" or split_of(r[0]["product"]) == name]
        by_split[name] = _scores(rows)
    result = {"splits": by_split}
    if timed and timings:
        result["ms_per_piece"] = {
            "mean": round(statistics.mean(timings), 2),
            "p95": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 2),
            "max": round(max(timings), 2),
        }
    result["per_piece"] = [
        {
            "id": p["id"],
            "approvable": r["approvable"],
            "labelled": sorted({d["kind"] for d in lab["defects"]}),
            "verdict": lab["verdict"],
            "findings": [f"{f['category']}: {f['text']}" for f in findings_of(r, p["fields"])],
        }
        for p, lab, r in per_piece
    ]
    return result


def _scores(rows) -> dict:
    recall_pieces: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    recall_spans: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    precision: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    approvable = approvable_visible = approvable_any = blocked = blocked_right = 0
    publishable = publishable_approved = 0
    for piece, label, report in rows:
        kinds = {d["kind"] for d in label["defects"]}
        spans = _label_spans(piece, label)
        findings = findings_of(report, piece["fields"])
        is_blocked = not report["approvable"]
        if label["verdict"] == "publishable":
            publishable += 1
            publishable_approved += not is_blocked
        if is_blocked:
            blocked += 1
            blocked_right += bool(kinds)
        else:
            approvable += 1
            approvable_visible += bool(kinds & SHOPPER_VISIBLE)
            approvable_any += bool(kinds)
        for kind in kinds:
            recall_pieces[kind][1] += 1
            recall_pieces[kind][0] += is_blocked
        for defect in spans:
            if defect["start"] is None or defect["start"] == defect["end"]:
                continue
            recall_spans[defect["kind"]][1] += 1
            recall_spans[defect["kind"]][0] += any(
                f["start"] is not None and _overlaps(f, defect) for f in findings
            )
        for finding in findings:
            category = finding["category"]
            precision[category][1] += 1
            if finding["start"] is not None:
                right = any(_overlaps(finding, d) for d in spans)
            else:
                right = bool(kinds & UNSPANNED.get(category, set()))
            precision[category][0] += right
    total = len(rows)

    def share(a, b):
        return round(a / b, 3) if b else None

    return {
        "pieces": total,
        "labelled_publishable": publishable,
        "approvable": approvable,
        "approvable_share": share(approvable, total),
        "approvable_with_shopper_visible_defect": approvable_visible,
        "approvable_with_shopper_visible_defect_share": share(approvable_visible, approvable),
        "approvable_with_any_labelled_defect_share": share(approvable_any, approvable),
        "publishable_pieces_approvable_share": share(publishable_approved, publishable),
        "piece_precision": share(blocked_right, blocked),
        "recall_pieces": {k: {"recall": share(*v), "n": v[1]} for k, v in sorted(recall_pieces.items())},
        "recall_spans": {k: {"recall": share(*v), "n": v[1]} for k, v in sorted(recall_spans.items())},
        "precision": {k: {"precision": share(*v), "n": v[1]} for k, v in sorted(precision.items())},
    }


def _adjudicated_precision() -> dict | None:
    """Precision of a random sample of statement findings on the test half, judged by reading
    (bench/grounding_sample_findings.py draws it; finding_adjudications.jsonl holds the verdicts)."""
    sample_path = GROUNDING_DIR / "finding_sample.jsonl"
    verdict_path = GROUNDING_DIR / "finding_adjudications.jsonl"
    if not (sample_path.exists() and verdict_path.exists()):
        return None
    sample = {
        (r["piece"], r["field"], r["start"], r["end"]): r
        for r in map(json.loads, sample_path.read_text().splitlines())
        if r
    }
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for row in map(json.loads, verdict_path.read_text().splitlines()):
        finding = sample.get((row["piece"], row["field"], row["start"], row["end"]))
        if finding is None:
            continue
        right = row["verdict"] == "right"
        by_category[finding["category"]][0] += right
        by_category[finding["category"]][1] += 1
        total[0] += right
        total[1] += 1
    if not total[1]:
        return None
    return {
        "precision": round(total[0] / total[1], 3),
        "n": total[1],
        "by_category": {
            k: {"precision": round(a / b, 3), "n": b} for k, (a, b) in sorted(by_category.items())
        },
    }


def _baseline_check(ref: str):
    """check_copy as it was at ``ref`` (one self-contained module then), loaded from git."""
    source = subprocess.run(
        ["git", "show", f"{ref}:ml/engine/grounding.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "grounding_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("grounding_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)

    def check(fields, product, *, channel, banned_words, brand_voice):
        return module.check_copy(fields, product, channel=channel, banned_words=banned_words)

    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--baseline-ref",
        default="1c596dd",
        help="commit whose checker runs beside the current one ('' to skip)",
    )
    parser.add_argument(
        "--show",
        choices=("missed", "false", "none"),
        default="none",
        help="print the dev half's missed defects or false findings",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from ml.engine.grounding import check_copy

    pieces = [json.loads(line) for line in COPY_PIECES.read_text().splitlines() if line.strip()]
    labels = load_labels()
    missing = [p["id"] for p in pieces if p["id"] not in labels]
    products = products_by_ref({p["product"] for p in pieces})
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "pieces": len(pieces),
        "labelled": len(labels),
        "unlabelled": len(missing),
        "label_kinds": dict(Counter(d["kind"] for lab in labels.values() for d in lab["defects"])),
        "current": evaluate(pieces, labels, products, check_copy),
    }
    adjudicated = _adjudicated_precision()
    if adjudicated:
        results["adjudicated"] = adjudicated
    if args.baseline_ref:
        results["baseline_ref"] = args.baseline_ref
        results["baseline"] = evaluate(
            pieces, labels, products, _baseline_check(args.baseline_ref), timed=False
        )
        results["baseline"].pop("per_piece")
    if args.show != "none":
        for row in results["current"]["per_piece"]:
            piece = next(p for p in pieces if p["id"] == row["id"])
            if split_of(piece["product"]) != "dev":
                continue
            if args.show == "missed" and row["approvable"] and row["labelled"]:
                print(row["id"], row["labelled"], piece["fields"])
            if args.show == "false" and not row["approvable"] and row["verdict"] == "publishable":
                print(row["id"], row["findings"], piece["fields"])
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(section, SECTION)
    return 0


def render(results: dict) -> str:
    cur = results["current"]
    base = results.get("baseline")
    lines = [
        SECTION,
        "",
        (
            f"`bench/grounding_eval.py`, {results['date']}: {results['labelled']} copy pieces labelled by reading "
            f"(`bench/grounding/`, guide in `LABELLING.md`), split by product into a dev half (seen while the "
            f"verifier's vocabulary was written) and a held-out test half."
        ),
        "",
    ]
    header = "| | test: current | test: before | dev: current | dev: before |"
    lines += [header, "| --- | ---: | ---: | ---: | ---: |"]

    def row(name, key, pct=True):
        def fmt(split, data):
            if data is None:
                return "—"
            value = data["splits"][split].get(key)
            if value is None:
                return "—"
            return f"{value:.1%}" if pct and isinstance(value, float) else str(value)

        return (
            f"| {name} | {fmt('test', cur)} | {fmt('test', base)} | {fmt('dev', cur)} | {fmt('dev', base)} |"
        )

    lines += [
        row("pieces", "pieces", pct=False),
        row("labelled publishable by a reader", "labelled_publishable", pct=False),
        row("approvable (no finding)", "approvable", pct=False),
        row("approvable share", "approvable_share"),
        row(
            "**approvable with an unsupported claim, contradiction or placeholder** (aim ≤ 2%)",
            "approvable_with_shopper_visible_defect_share",
        ),
        row("approvable with any labelled defect", "approvable_with_any_labelled_defect_share"),
        row("publishable pieces left approvable", "publishable_pieces_approvable_share"),
        row("blocked pieces that have a labelled defect (piece precision)", "piece_precision"),
    ]
    lines += [
        "",
        (
            "Recall per labelled defect kind, test half (pieces blocked / labelled; spans overlapped by a "
            "finding / labelled spans):"
        ),
        "",
        "| kind | pieces | recall (pieces) | spans | recall (spans) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    test = cur["splits"]["test"]
    for kind in LABEL_KINDS:
        p = test["recall_pieces"].get(kind)
        s = test["recall_spans"].get(kind)
        if not p:
            continue
        lines.append(
            f"| {kind} | {p['n']} | {p['recall']:.1%} | {s['n'] if s else 0} | "
            f"{format(s['recall'], '.1%') if s and s['recall'] is not None else '—'} |"
        )
    lines += [
        "",
        "Precision per checker finding category, test half (findings pointing at a labelled defect):",
        "",
        "| category | findings | precision |",
        "| --- | ---: | ---: |",
    ]
    for category, value in sorted(test["precision"].items(), key=lambda kv: -kv[1]["n"]):
        lines.append(f"| {category} | {value['n']} | {value['precision']:.1%} |")
    adjudicated = results.get("adjudicated")
    if adjudicated:
        parts = ", ".join(
            f"{k} {v['precision']:.0%} of {v['n']}" for k, v in adjudicated["by_category"].items()
        )
        lines += [
            "",
            (
                "The labels mark the main defects of a piece, not every word of a garbled one, so a finding "
                "that overlaps no labelled span is not necessarily wrong. A random sample of "
                f"{adjudicated['n']} statement findings on the test half, each judged by reading "
                f"(`finding_adjudications.jsonl`): **{adjudicated['precision']:.1%} are right** ({parts})."
            ),
        ]
    if "ms_per_piece" in cur:
        ms = cur["ms_per_piece"]
        lines += [
            "",
            (
                f"Speed: {ms['mean']} ms per piece on average, p95 {ms['p95']} ms, max {ms['max']} ms "
                f"(one core, this machine)."
            ),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
