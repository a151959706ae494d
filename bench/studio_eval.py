"""What the copy studio ships, measured against labels made by reading (bench/grounding/studio_pieces.jsonl).

    .venv/bin/python bench/studio_eval.py [--no-write]

`bench/studio_corpus.py` ran the real campaign task (several drafts, assembly of verified sentences, retries)
on products no earlier labelled set used and stored every piece; its verdicts (the ``approvable`` flag the
merchant sees, and ``flagged``) are in `studio_pieces.verdicts.jsonl`, kept apart from the pieces so the
labels in `labels/studio-*.jsonl` were made without them (guide: `LABELLING.md`).

Per channel and overall:

- **approvable share**: pieces the studio lets a merchant approve ("Approve all passing" would approve them);
- **approvable with a shopper-visible defect**: of those, the share a reader labelled with an unsupported
  claim, a wrong type/colour/material, a contradiction or a placeholder (the issue's aim: <= 2%), with a
  Wilson 95% interval, and the share with any labelled defect at all;
- **publishable left approvable**: of the pieces a reader would publish as they are, the share the studio
  lets through (the checker's cost in good copy thrown away);
- the checker's piece-level precision (blocked pieces that carry a labelled defect), and recall per labelled
  kind and precision per finding category from `bench/grounding_eval.py`'s scoring, rerun now with the
  current checker (its verdict is compared with the stored one: they differ only if the checker changed).

Writes bench/results/studio_eval.json and the "Copy studio output vs labels" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchmarks_md import write_section
from bench.grounding_data import GROUNDING_DIR, products_by_ref
from bench.grounding_eval import LABEL_KINDS, SHOPPER_VISIBLE, evaluate, load_labels

PIECES = GROUNDING_DIR / "studio_pieces.jsonl"
RESULTS_JSON = ROOT / "bench" / "results" / "studio_eval.json"
SECTION = "## Copy studio output vs labels"


def wilson(part: int, whole: int, z: float = 1.96) -> tuple[float, float] | None:
    if not whole:
        return None
    p = part / whole
    centre = (p + z * z / (2 * whole)) / (1 + z * z / whole)
    half = z * math.sqrt(p * (1 - p) / whole + z * z / (4 * whole * whole)) / (1 + z * z / whole)
    return max(0.0, centre - half), min(1.0, centre + half)


def _share(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def summarise(rows: list[dict]) -> dict:
    """``rows``: {"approvable", "kinds", "verdict"} per piece (the studio's verdict, the labelled kinds)."""
    approvable = [r for r in rows if r["approvable"]]
    blocked = [r for r in rows if not r["approvable"]]
    visible = sum(bool(r["kinds"] & SHOPPER_VISIBLE) for r in approvable)
    publishable = [r for r in rows if r["verdict"] == "publishable"]
    interval = wilson(visible, len(approvable))
    return {
        "pieces": len(rows),
        "approvable": len(approvable),
        "approvable_share": _share(len(approvable), len(rows)),
        "approvable_with_shopper_visible_defect": visible,
        "approvable_with_shopper_visible_defect_share": _share(visible, len(approvable)),
        "approvable_with_shopper_visible_defect_ci95": [round(x, 3) for x in interval] if interval else None,
        "approvable_with_any_labelled_defect_share": _share(
            sum(bool(r["kinds"]) for r in approvable), len(approvable)
        ),
        "approvable_and_publishable": sum(r["verdict"] == "publishable" for r in approvable),
        "labelled_publishable": len(publishable),
        "publishable_share": _share(len(publishable), len(rows)),
        "publishable_left_approvable_share": _share(
            sum(r["approvable"] for r in publishable), len(publishable)
        ),
        "piece_precision": _share(sum(bool(r["kinds"]) for r in blocked), len(blocked)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pieces", type=Path, default=PIECES)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from ml.engine.grounding import check_copy

    pieces = [json.loads(line) for line in args.pieces.read_text().splitlines() if line.strip()]
    verdicts_path = args.pieces.with_suffix(".verdicts.jsonl")
    verdicts = {v["id"]: v for v in map(json.loads, verdicts_path.read_text().splitlines()) if v}
    labels = load_labels("studio-*.jsonl")
    unlabelled = [p["id"] for p in pieces if p["id"] not in labels]
    products = products_by_ref({p["product"] for p in pieces})
    rechecked = evaluate(pieces, labels, products, check_copy)
    now_approvable = {row["id"]: row["approvable"] for row in rechecked["per_piece"]}

    rows_by_channel: dict[str, list[dict]] = {}
    rows_by_source: dict[str, list[dict]] = {}  # myntra / demo catalog
    examples = {"approvable_defective": [], "approvable_publishable": [], "blocked_publishable": []}
    for piece in pieces:
        label = labels.get(piece["id"])
        if label is None:
            continue
        kinds = {d["kind"] for d in label["defects"]}
        row = {"approvable": verdicts[piece["id"]]["approvable"], "kinds": kinds, "verdict": label["verdict"]}
        rows_by_channel.setdefault(piece["channel"], []).append(row)
        rows_by_source.setdefault(piece["voice"], []).append(row)
        entry = {
            "id": piece["id"],
            "channel": piece["channel"],
            "fields": piece["fields"],
            "labelled": [f"{d['kind']}: {d.get('span', '')!r}" for d in label["defects"]],
        }
        if row["approvable"] and kinds & SHOPPER_VISIBLE:
            examples["approvable_defective"].append(entry)
        elif row["approvable"] and label["verdict"] == "publishable":
            examples["approvable_publishable"].append(entry)
        elif not row["approvable"] and label["verdict"] == "publishable":
            examples["blocked_publishable"].append(entry)
    every = [r for rows in rows_by_channel.values() for r in rows]
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "pieces": len(pieces),
        "labelled": len(pieces) - len(unlabelled),
        "unlabelled": unlabelled,
        "verdict_changed_since_generation": sorted(
            i for i, a in now_approvable.items() if a != verdicts[i]["approvable"]
        ),
        "label_kinds": dict(
            Counter(d["kind"] for p in pieces if p["id"] in labels for d in labels[p["id"]]["defects"])
        ),
        "overall": summarise(every),
        "channels": {channel: summarise(rows) for channel, rows in rows_by_channel.items()},
        "sources": {source: summarise(rows) for source, rows in rows_by_source.items()},
        "checker": {k: v for k, v in rechecked["splits"]["all"].items()},
        "ms_per_piece": rechecked.get("ms_per_piece"),
        "examples": examples,
    }
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    section = render(results)
    print(section)
    if not args.no_write:
        write_section(section, SECTION)
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def render(results: dict) -> str:
    overall = results["overall"]
    lines = [
        SECTION,
        "",
        (
            f"`bench/studio_eval.py`, {results['date']}: {results['labelled']} pieces the copy studio stored "
            "(`bench/studio_corpus.py`: the real campaign task with SmolLM2-135M-Instruct, 3 drafts per try, "
            "assembly of verified sentences, 2 retries with the checker's feedback, banned phrases) for products no "
            "earlier labelled set used, each labelled by reading (`bench/grounding/labels/studio-*.jsonl`). "
            '"Approvable" is the studio\'s own stored verdict.'
        ),
        "",
        "| channel | pieces | approvable | **approvable with an unsupported claim, wrong type/colour/material, "
        "contradiction or placeholder** (aim ≤ 2%) | 95% interval | approvable with any labelled defect | "
        "labelled publishable | publishable left approvable |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sources = [
        (f"{source} catalog, all channels", data) for source, data in sorted(results["sources"].items())
    ]
    for name, data in [*sorted(results["channels"].items()), *sources, ("**all**", overall)]:
        ci = data["approvable_with_shopper_visible_defect_ci95"]
        lines.append(
            f"| {name} | {data['pieces']} | {data['approvable']} ({_pct(data['approvable_share'])}) | "
            f"{data['approvable_with_shopper_visible_defect']} ({_pct(data['approvable_with_shopper_visible_defect_share'])}) | "
            f"{'—' if ci is None else f'{ci[0]:.1%}–{ci[1]:.1%}'} | "
            f"{_pct(data['approvable_with_any_labelled_defect_share'])} | "
            f"{data['labelled_publishable']} ({_pct(data['publishable_share'])}) | "
            f"{_pct(data['publishable_left_approvable_share'])} |"
        )
    checker = results["checker"]
    lines += [
        "",
        (
            f"Blocked pieces that carry a labelled defect (piece precision): {_pct(overall['piece_precision'])}. "
            f"The current checker, rerun on the stored pieces, changes "
            f"{len(results['verdict_changed_since_generation'])} verdicts."
        ),
        "",
        "Recall per labelled defect kind (pieces the checker blocks / pieces labelled with the kind):",
        "",
        "| kind | pieces | recall |",
        "| --- | ---: | ---: |",
    ]
    for kind in LABEL_KINDS:
        value = checker["recall_pieces"].get(kind)
        if value:
            lines.append(f"| {kind} | {value['n']} | {_pct(value['recall'])} |")
    examples = results["examples"]
    for key, title in (
        ("approvable_defective", "Approvable, labelled with a shopper-visible defect (what slips through)"),
        ("approvable_publishable", "Approvable and labelled publishable (up to 5)"),
        ("blocked_publishable", "Blocked but labelled publishable (good copy thrown away; up to 5)"),
    ):
        shown = examples[key] if key == "approvable_defective" else examples[key][:5]
        lines += ["", f"{title}: {len(examples[key])}", ""]
        for entry in shown:
            text = " / ".join(f"{k}: {v!r}" for k, v in entry["fields"].items() if v)
            labelled = f" — labelled {', '.join(entry['labelled'])}" if entry["labelled"] else ""
            lines.append(f"- {entry['channel']} `{entry['id']}`: {text}{labelled}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
