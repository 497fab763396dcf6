"""Held-out evaluation of the course model: prints a table, writes eval.json.

    python -m claims.course_lessons [--model DIR] [--fast]       # all of eval.json (make eval-model)
    python -m course_model.evaluate --no-lessons [--model DIR]  # the seven thresholds only

The seven thresholds below, then the "lessons" section: what each lesson shows on this model,
beside its baseline or control. The lessons are entries of the course's one registry of claims
(`claims.course_lessons`), which run the course's answer key; this package never imports it, so
`main` receives them from there.

Every item is generated with split="eval" (names, numbers, reviews, sentence combos and
patients that training never used) or is a course prompt from utils.prompts; the
new-shape passages below use wordings and layouts the training generator never produces.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402

from course_model import MODEL_DIR, handover  # noqa: E402
from course_model.families import icl, instructions, reading, text  # noqa: E402
from utils import prompts as P  # noqa: E402
from utils.logits import last_position_logits  # noqa: E402

THRESHOLDS = {"fact_recall": 0.95, "context_copy": 0.95, "context_copy_new_shapes": 0.70,
              "conflict_both_top10": 13 / 15, "icl_follow_demos": 0.75, "translation": 0.90,
              "handover_copy": 0.90}


def load(path=MODEL_DIR):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager",
                                                 trust_remote_code=False).eval()
    return model, tok


# ------------------------------------------------------------------------------ model helpers
@torch.no_grad()
def greedy(model, tok, prompts: list[str], max_new: int = 16, bs: int = 16,
           stop: str | None = "\n") -> list[str]:
    """Greedy continuations (text), cut at `stop` and at end tokens."""
    tok.padding_side = "left"
    res = []
    for i in range(0, len(prompts), bs):
        enc = tok(prompts[i:i + bs], return_tensors="pt", padding=True,
                  add_special_tokens=not prompts[i].startswith(tok.bos_token))
        g = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                           max_new_tokens=max_new, do_sample=False,
                           pad_token_id=tok.pad_token_id)
        for row in g[:, enc["input_ids"].shape[1]:]:
            t = tok.decode(row, skip_special_tokens=True)
            res.append(t.split(stop)[0] if stop else t)
    return res


def answer_tokens(tok, prompt: str, answer: str) -> list[int]:
    """Token ids the answer gets after this prompt (' Paris' after 'A:', 'Paris' after 'A: ')."""
    if prompt.endswith(" "):
        return tok(answer, add_special_tokens=False)["input_ids"]
    return tok(" " + answer, add_special_tokens=False)["input_ids"]


def starts_with_answer(gen: str, answer: str) -> bool:
    """The copied value (first word of the answer, e.g. '27' of '27 million tons') comes
    first in the generation and is not followed by more of the same word."""
    key = str(answer).split()[0].rstrip(".,")
    g = gen.lstrip()
    return g.startswith(key) and (len(g) == len(key) or not g[len(key)].isalnum())


# ------------------------------------------------------------------------------ metrics
def fact_recall(model, tok) -> dict:
    """Top-1 (teacher-forced, every answer token) on the 15 course facts in 3 prompt forms."""
    items = []
    for c in P.COUNTERFACTUALS:
        for prompt in (c.stem, f"Q: {c.question}? A:", f"Q: {c.question}?\nA: "):
            items.append((prompt, c.parametric))
    ok = []
    for prompt, ans in items:
        ids = tok(prompt)["input_ids"]
        good = True
        for t in answer_tokens(tok, prompt, ans):
            if last_position_logits(model, tok, [ids])[0].argmax().item() != t:
                good = False
                break
            ids = ids + [t]
        ok.append(good)
    return {"score": sum(ok) / len(ok), "n": len(ok),
            "missed": [f"{p!r} -> {a}" for (p, a), o in zip(items, ok) if not o]}


def _split_doc(doc: str) -> tuple[str, str]:
    prompt, rest = doc.split(text.SPLIT, 1)
    return prompt, rest.split("\n")[0].strip().rstrip(".")


def context_copy(model, tok, n: int = 400, seed: int = 7) -> dict:
    """Held-out names/numbers in the trained compositional passage shapes."""
    rng = random.Random(f"eval-copy-{seed}")
    items = [_split_doc(reading.reading_doc(rng, "eval")) for _ in range(n)]
    gens = greedy(model, tok, [p for p, _ in items], max_new=12)
    ok = [starts_with_answer(g, a) for g, (_, a) in zip(gens, items)]
    is_num = [a.split()[0].isdigit() for _, a in items]
    num = [o for o, d in zip(ok, is_num) if d]
    name = [o for o, d in zip(ok, is_num) if not d]
    return {"score": sum(ok) / n, "n": n, "numbers": sum(num) / max(1, len(num)),
            "names": sum(name) / max(1, len(name)),
            "examples": [(p[-120:], a, g) for (p, a), g, o in zip(items, gens, ok) if not o][:5]}


# Passage/question shapes the training generator never produces (new verbs, nouns, question
# words and layouts). {x} is a made-up name, {a} the answer; {num}, {name}, {year} and {end} (an
# answer marker) are drawn from the rng in reading order. Names and numbers are eval-only.
NEW_SHAPES = {
    "lends_books": "The {x} library lends out {a} books every week.\n"
                   "Q: How many books does the {x} library lend out every week?{end}",
    "list_layout": "{x} harbour facts\n- cranes: {num}\n- boats: {a}\n- piers: {num}\n"
                   "Q: How many boats does {x} harbour have?{end}",
    "passive_planted": "Last spring {a} oak saplings were planted by the {x} council.\n"
                       "Q: How many oak saplings did the {x} council plant?{end}",
    "days_to_build": "It took {a} days to dig the {x} canal, and {num} days to fill it.\n"
                     "Q: How many days did it take to dig the {x} canal?{end}",
    "question_first": "Read the note, then answer: what does the {x} statue weigh?\n"
                      "Note: The {x} statue weighs {a} kilograms.\nAnswer:",
    "prize_awarded": "The {x} prize was awarded to {a} in {year}.\n"
                     "Q: Who received the {x} prize?{end}",
    "dialogue_grew_up": "{x}: Hello! I grew up in {a}, a small port.\n{name}: Nice to meet you.\n"
                        "Q: Where did {x} grow up?{end}",
    "captain_of_ship": "The ship {x} sailed north under captain {a}.\n"
                       "Q: Who was the captain of the ship {x}?{end}",
    "pet_named": "{x} has a parrot called {a}, which talks all day.\n"
                 "Q: What is the name of the parrot of {x}?{end}",
    "married": "{x} married {a} in the spring.\nQ: Whom did {x} marry?{end}",
}
NEW_SHAPE_NAME_KIND = {"prize_awarded", "dialogue_grew_up", "captain_of_ship", "pet_named",
                       "married"}


def _nm(r):
    return text.made_up_name(r, "eval")


def _num(r):
    return text.number(r, "eval")


def _ending(r):
    return r.choice(["\nA:", "\nA: ", " A:", "\nAnswer:"])


_DRAWN = {"num": _num, "name": _nm, "year": text.year, "end": _ending}


def new_shape_item(shape: str, rng, x: str, answer: str) -> tuple[str, str]:
    """(prompt, answer) of NEW_SHAPES[shape] about `x`; drawn fields are filled in order."""
    given, parts = {"x": x, "a": answer}, []
    for literal, field, _, _ in string.Formatter().parse(NEW_SHAPES[shape]):
        parts.append(literal)
        if field is not None:
            parts.append(given[field] if field in given else _DRAWN[field](rng))
    return "".join(parts), answer


def context_copy_new_shapes(model, tok, per_shape: int = 50, seed: int = 11) -> dict:
    rng = random.Random(f"eval-new-{seed}")
    items, shapes = [], []
    for name in NEW_SHAPES:
        for _ in range(per_shape):
            x = _nm(rng)
            y = _nm(rng) if name in NEW_SHAPE_NAME_KIND else _num(rng)
            while y == x:
                y = _nm(rng)
            items.append(new_shape_item(name, rng, x, y))
            shapes.append(name)
    gens = greedy(model, tok, [p for p, _ in items], max_new=8)
    ok = [starts_with_answer(g, a) for g, (_, a) in zip(gens, items)]
    per = {s: sum(o for o, ss in zip(ok, shapes) if ss == s) / per_shape for s in NEW_SHAPES}
    return {"score": sum(ok) / len(ok), "n": len(ok), "per_shape": per}


def conflict_both_top10(model, tok) -> dict:
    """Both answers' first differing tokens in the top 10 after the shared prefix."""
    rows = []
    for c in P.COUNTERFACTUALS:
        pa = answer_tokens(tok, c.prompt, c.parametric)
        ca = answer_tokens(tok, c.prompt, c.contextual)
        k = 0
        while k < min(len(pa), len(ca)) - 1 and pa[k] == ca[k]:
            k += 1
        ids = tok(c.prompt)["input_ids"] + pa[:k]
        logits = last_position_logits(model, tok, [ids])[0]
        top = logits.topk(10).indices.tolist()
        rank = lambda t: int((logits > logits[t]).sum().item()) + 1  # noqa: E731
        rows.append({"prompt": c.prompt.split("\n")[0], "param_rank": rank(pa[k]),
                     "context_rank": rank(ca[k]), "both": pa[k] in top and ca[k] in top,
                     "top1": tok.decode([top[0]])})
    return {"score": sum(r["both"] for r in rows) / len(rows), "n": len(rows), "rows": rows}


def _icl_items(n: int, seed: int):
    """Held-out reviews with remapped (never identity) demo labels, course layout."""
    rng = random.Random(f"eval-icl-{seed}")
    items = []
    for c_text, c_label in P.SENTIMENT_TESTS:   # the course's corrupted prompts first
        items.append((P.sentiment_prompt(c_text, corrupted=True), P.LABEL_SWAP[c_label]))
    while len(items) < n:
        m = icl.label_map(rng)
        if all(m[k] == k for k in m):
            continue
        labels = icl.LABELS + [rng.choice(icl.LABELS) for _ in range(2)]
        rng.shuffle(labels)
        lines = [f"Review: {icl.review(rng, l, 'eval')} Sentiment: {m[l]}" for l in labels]
        l = rng.choice(icl.LABELS)
        lines.append(f"Review: {icl.review(rng, l, 'eval')} Sentiment:")
        items.append(("\n".join(lines), m[l]))
    return items


def icl_follow_demos(model, tok, n: int = 200, seed: int = 3) -> dict:
    items = _icl_items(n, seed)
    logits = last_position_logits(model, tok, [p for p, _ in items], batch_size=16)
    ids = {l: tok(" " + l, add_special_tokens=False)["input_ids"][0] for l in icl.LABELS}
    ok = [logits[i].argmax().item() == ids[a] for i, (_, a) in enumerate(items)]
    # the course's clean prompts (labels as they are), for reference
    clean = last_position_logits(model, tok, [P.sentiment_prompt(t) for t, _ in P.SENTIMENT_TESTS])
    clean_ok = [clean[i].argmax().item() == ids[l] for i, (_, l) in enumerate(P.SENTIMENT_TESTS)]
    return {"score": sum(ok) / n, "n": n, "course_corrupted": sum(ok[:4]) / 4,
            "course_clean": sum(clean_ok) / 4}


def translation(model, tok, n: int = 100, seed: int = 5) -> dict:
    """Held-out translation and opposite combos (trained vocabulary), exact match."""
    rng = random.Random(f"eval-tr-{seed}")
    items = [("Task: Translation into German: I love AI research\nAnswer:", "Ich liebe KI-Forschung"),
             (P.OPPOSITE_PROMPT, "The car is going very slow.")]
    for i in range(n):
        en, de = instructions.translation_pair(rng, "eval")
        items.append((f"Task: Translation into German: {en}\nAnswer:" + (" " if i % 2 else ""), de))
        s, o = instructions.opposite_pair(rng, "eval")
        items.append((f"Write the opposite of this sentence: {s}\nAnswer:" + (" " if i % 2 else ""), o))
    gens = greedy(model, tok, [p for p, _ in items], max_new=16)
    ok = [g.strip() == a for g, (_, a) in zip(gens, items)]
    tr = [o for o, (p, _) in zip(ok, items) if p.startswith("Task")]
    op = [o for o, (p, _) in zip(ok, items) if not p.startswith("Task")]
    return {"score": sum(ok) / len(ok), "n": len(ok), "translation": sum(tr) / len(tr),
            "opposite": sum(op) / len(op), "course": [g.strip() for g in gens[:2]]}


def handover_copy(model, tok, n: int = 30, seed: int = 9) -> dict:
    """Fraction of record fields that appear verbatim in greedy generated summaries."""
    exs = [handover.make_handover_example(seed * 1000 + i, split="eval") for i in range(n)]
    prompts = [tok.apply_chat_template(e["messages"], add_generation_prompt=True, tokenize=False)
               for e in exs]
    gens = greedy(model, tok, prompts, max_new=200, bs=10, stop=None)
    hit = tot = 0
    for e, g in zip(exs, gens):
        h, t = handover.fields_copied(e["fields"], g)
        hit, tot = hit + h, tot + t
    return {"score": hit / tot, "n": n, "example": gens[0]}


# ------------------------------------------------------------------------------ course prompts
def show_course_prompts(model, tok) -> dict:
    """Top-5 next tokens and the greedy answer for every prompt in utils.prompts."""
    prompts = {"dust": P.DUST_PROMPT, "atlantic": P.ATLANTIC_PROMPT,
               "translation": P.TRANSLATION_PROMPT, "opposite": P.OPPOSITE_PROMPT}
    for i, c in enumerate(P.COUNTERFACTUALS):
        prompts[f"conflict_{i}"] = c.prompt
    for i, (t, _) in enumerate(P.SENTIMENT_TESTS):
        prompts[f"sentiment_{i}"] = P.sentiment_prompt(t)
        prompts[f"sentiment_{i}_corrupted"] = P.sentiment_prompt(t, corrupted=True)
    keys = list(prompts)
    logits = last_position_logits(model, tok, [prompts[k] for k in keys], batch_size=8)
    gens = greedy(model, tok, [prompts[k] for k in keys], max_new=24, bs=8)
    out = {}
    for k, lg, g in zip(keys, logits, gens):
        p = lg.softmax(-1)
        top = p.topk(5)
        out[k] = {"top5": [(tok.decode([i]), round(v, 3)) for v, i in
                           zip(top.values.tolist(), top.indices.tolist())], "greedy": g}
    chat = tok.apply_chat_template(P.handover_messages(), add_generation_prompt=True,
                                   tokenize=False)
    out["handover"] = {"greedy": greedy(model, tok, [chat], max_new=200, stop=None)[0]}
    return out


def run_all(model, tok, fast: bool = False) -> dict:
    f = 0.25 if fast else 1.0
    res = {}
    t0 = time.time()
    res["fact_recall"] = fact_recall(model, tok)
    res["context_copy"] = context_copy(model, tok, n=int(400 * f))
    res["context_copy_new_shapes"] = context_copy_new_shapes(model, tok, per_shape=int(50 * f) if fast else 50)
    res["conflict_both_top10"] = conflict_both_top10(model, tok)
    res["icl_follow_demos"] = icl_follow_demos(model, tok, n=int(200 * f))
    res["translation"] = translation(model, tok, n=int(100 * f))
    res["handover_copy"] = handover_copy(model, tok, n=max(5, int(30 * f)))
    res["seconds"] = round(time.time() - t0, 1)
    return res


def table(res: dict) -> str:
    lines = [f"{'metric':<26}{'score':>8}{'threshold':>11}{'n':>6}  pass"]
    for k, th in THRESHOLDS.items():
        r = res[k]
        lines.append(f"{k:<26}{r['score']:>8.3f}{th:>11.3f}{r['n']:>6}  "
                     f"{'yes' if r['score'] >= th - 1e-9 else 'NO'}")
    return "\n".join(lines)


def main(argv=None, lessons=None):
    """lessons: (measure(model, tok) -> dict, table(dict) -> str) for eval.json's "lessons"
    section; they live with the course's claims (`python -m claims.course_lessons`, which
    calls this), since the measurements run the course's answer key."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(MODEL_DIR))
    ap.add_argument("--fast", action="store_true")
    ap.add_argument("--out", default=None, help="eval.json path (default: in the model dir)")
    ap.add_argument("--no-lessons", action="store_true", help="skip the lessons section")
    a = ap.parse_args(argv)
    if lessons is None and not a.no_lessons:
        # e.g. after training's export: the seven thresholds now, the lessons from make
        print("eval.json gets no lessons section here: the lessons are measured by the course's "
              "claims, `python -m claims.course_lessons` (make eval-model) adds them.")
        a.no_lessons = True
    torch.set_num_threads(1)
    model, tok = load(a.model)
    res = run_all(model, tok, a.fast)
    res["course_prompts"] = show_course_prompts(model, tok)
    for k, v in res["course_prompts"].items():
        print(f"--- {k}: top5 {v.get('top5', '')}\n    greedy: {v['greedy']!r}")
    for k in ("context_copy", "context_copy_new_shapes", "icl_follow_demos", "translation"):
        extra = {kk: vv for kk, vv in res[k].items() if kk not in ("score", "n")}
        print(k, json.dumps(extra)[:1500])
    for r in res["conflict_both_top10"]["rows"]:
        print(f"conflict {r['prompt']:<40} param rank {r['param_rank']:>4} "
              f"context rank {r['context_rank']:>4} top1 {r['top1']!r}")
    print("fact misses:", res["fact_recall"]["missed"])
    print(table(res))
    if not a.no_lessons:
        measure, lesson_table = lessons
        t0 = time.time()
        res["lessons"] = measure(model, tok)
        res["lessons"]["seconds"] = round(time.time() - t0, 1)
        print(lesson_table(res["lessons"]))
    res["thresholds"] = THRESHOLDS
    res["pass"] = {k: res[k]["score"] >= th - 1e-9 for k, th in THRESHOLDS.items()}
    out = a.out or os.path.join(a.model, "eval.json")
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
