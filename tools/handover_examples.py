"""Write the generated patients that notebook 04's monitor reads: assets/handover_examples.json.

    python tools/handover_examples.py           # rewrite the file from course_model.handover
    python tools/handover_examples.py --check   # fail if the file differs from the generator

The library (utils.provenance) reads this file instead of importing the training package: the
generator stays in course_model/, where the corpus uses it. For each split ("train", "eval")
the file holds the first N seeds' records with their summaries' exact spans (text, "record" |
"memory") and fields, and the spans of the reference summary of the course's own record.
tests/test_provenance.py fails when the file and the generator disagree.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.provenance import HANDOVER_EXAMPLES  # noqa: E402

SEEDS_PER_SPLIT = 32   # notebook 04 uses 5 + 3, the course model's lessons 5 + 20


def build(n: int = SEEDS_PER_SPLIT) -> dict:
    """{"splits": {split: [{"record", "segments", "fields"}] for seeds 0..n-1},
    "records": [{"record", "segments"}] of the course's own record}."""
    from course_model.handover import make_handover_example, parse_record, summary_segments
    from utils.prompts import PATIENT_RECORD

    def kept(example):
        return {"record": example["record"], "segments": example["segments"],
                "fields": example["fields"]}

    return {"splits": {split: [kept(make_handover_example(seed, split)) for seed in range(n)]
                       for split in ("train", "eval")},
            "records": [{"record": PATIENT_RECORD,
                         "segments": summary_segments(parse_record(PATIENT_RECORD))}]}


def text(data: dict) -> str:
    """The file's text: one stored record a line, so that a changed patient is a one-line diff."""
    def rows(items):
        return ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)

    splits = ",\n".join(f' "{split}": [\n{rows(items)}]' for split, items in data["splits"].items())
    return ('{"splits": {\n' + splits + '},\n"records": [\n' + rows(data["records"]) + "]}\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    wanted = text(build())
    if args.check:
        same = HANDOVER_EXAMPLES.exists() and HANDOVER_EXAMPLES.read_text(encoding="utf-8") == wanted
        print(f"{HANDOVER_EXAMPLES.relative_to(ROOT)} is " + ("up to date" if same else
              "stale: run python tools/handover_examples.py"))
        return 0 if same else 1
    HANDOVER_EXAMPLES.write_text(wanted, encoding="utf-8")
    print(f"wrote {HANDOVER_EXAMPLES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
