"""Token-level provenance for notebook 04's second monitor: which summary tokens come from the record.

    examples = handover_examples(range(8), "train")        # generated patients, exact spans
    data = provenance_dataset(model, tokenizer, examples)   # per-token head relevance + labels
    monitor = fit_monitor(data.features, data.labels)
    score_against_truth(p > 0.5, truth, scores=p)           # + balanced accuracy, ROC AUC

Training data: other patients' reference summaries, fed to the model after the chat (teacher
forcing), each token labelled by the generator's exact spans (`course_model.handover`
builds every summary from spans marked "record" or "memory"; the patients the course uses are
stored in assets/handover_examples.json). Features (`monitor_features`):
every head's normalised AttnLRP relevance for the token and for the token before it (sources
come in runs: a token copied from the record usually follows one), [2 * n_layers * n_heads].

For a text the generator did not write (the model's own summary) there are no spans;
`copy_labels` then applies a strict rule: a token is "record" when it lies in a run of at
least `min_words` whole words found verbatim, as whole words, in the record.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import torch

from utils import COURSE_ROOT
from utils.models import input_device
from utils.monitor import CONTEXTUAL, PARAMETRIC, normalise_relevance
from utils.progress import progress
from utils.prompts import handover_messages

# The generator's patients, written by tools/handover_examples.py (the generator itself lives in
# course_model/, which the library never imports).
HANDOVER_EXAMPLES = COURSE_ROOT / "assets" / "handover_examples.json"
_TABLE: dict = {}


@dataclass
class ProvenanceData:
    """features [n_tokens, 2*L*H], labels [n_tokens] (1 = memory), patient [n_tokens] (example
    index), token_ids [n_tokens] (the summary's token ids, for the baselines)."""
    features: np.ndarray
    labels: np.ndarray
    patient: np.ndarray
    token_ids: np.ndarray | None = None


def _handover_table() -> dict:
    """assets/handover_examples.json (written by tools/handover_examples.py), read once."""
    if not _TABLE:
        if not HANDOVER_EXAMPLES.exists():
            raise FileNotFoundError(f"{HANDOVER_EXAMPLES} is missing: run "
                                    "`python tools/handover_examples.py` to write it.")
        _TABLE.update(json.loads(HANDOVER_EXAMPLES.read_text(encoding="utf-8")))
    return _TABLE


def handover_examples(seeds, split: str = "train") -> list[dict]:
    """Generated records with reference summaries and exact spans (`course_model.handover`,
    stored in assets/handover_examples.json). split="eval" draws patient names the course model
    never saw in training. Each: dict(record, messages, summary, segments [(text, source)], fields)."""
    splits = _handover_table()["splits"]
    if split not in splits:
        raise ValueError(f"Unknown split {split!r}: choose 'train' or 'eval'.")
    stored = splits[split]
    examples = []
    for seed in seeds:
        if not 0 <= int(seed) < len(stored):
            raise ValueError(f"Seed {seed} is not stored: {HANDOVER_EXAMPLES.name} holds seeds "
                             f"0..{len(stored) - 1} of each split. Use those, or raise "
                             "SEEDS_PER_SPLIT in tools/handover_examples.py and run it.")
        row = stored[int(seed)]
        segments = [tuple(segment) for segment in row["segments"]]
        examples.append({"record": row["record"], "messages": handover_messages(row["record"]),
                         "summary": "".join(t for t, _ in segments), "segments": segments,
                         "fields": dict(row["fields"])})
    return examples


def reference_segments(record: str) -> list[tuple[str, str]] | None:
    """The exact spans of the generator's reference summary of `record`, when the record is one
    of the stored ones (a generated patient or the course's own record); otherwise None."""
    table = _handover_table()
    for row in [*table["records"], *(r for rows in table["splits"].values() for r in rows)]:
        if row["record"] == record:
            return [tuple(segment) for segment in row["segments"]]
    return None


def prompt_ids(tokenizer, messages) -> torch.Tensor:
    """The chat ready for the assistant's reply [1, seq]; a tokenizer without a chat template
    (a base or random model) gets the messages' texts joined by blank lines."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    text = "\n\n".join(m["content"] for m in messages) + "\n\n"
    return tokenizer(text, return_tensors="pt").input_ids


def span_labels(tokenizer, summary: str, segments) -> tuple[list[int], np.ndarray]:
    """Token ids of `summary` and one label per token from exact spans (1 = memory).

    segments: [(text, "record" | "memory")] whose texts concatenate to `summary`. A token is
    memory when most of its non-space characters come from memory spans.
    """
    if "".join(text for text, _ in segments) != summary:
        raise ValueError("The segments' texts must concatenate to the summary.")
    memory = np.concatenate([np.full(len(text), source == "memory") for text, source in segments])
    encoded = tokenizer(summary, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for start, end in encoded["offset_mapping"]:
        core = [memory[j] for j in range(start, end) if not summary[j].isspace()] or list(memory[start:end])
        labels.append(PARAMETRIC if core and 2 * sum(core) > len(core) else CONTEXTUAL)
    return list(encoded["input_ids"]), np.array(labels, dtype=int)


def monitor_features(relevance: torch.Tensor) -> np.ndarray:
    """[n_tokens, L, H] head relevance of consecutive tokens -> [n_tokens, 2 * L * H]: each
    token's normalised relevance, then its predecessor's (zeros for the first token)."""
    own = normalise_relevance(relevance.float()).flatten(1).cpu().numpy().astype(np.float64)
    previous = np.zeros_like(own)
    previous[1:] = own[:-1]
    return np.hstack([own, previous])


def provenance_dataset(model, tokenizer, examples, *, token_relevance) -> ProvenanceData:
    """Per-token head relevance of each example's reference summary, with exact labels.

    token_relevance(model, input_ids [1, seq], start) -> [seq - start, L, H], called inside
    `attnlrp(model)` by the caller's choice (e.g. `utils.conflicts.token_head_relevance_batched`).
    """
    features, labels, patient, token_ids = [], [], [], []
    for i, example in enumerate(progress(examples, "summaries", min_steps=2)):
        chat = prompt_ids(tokenizer, example["messages"])
        ids, token_labels = span_labels(tokenizer, example["summary"], example["segments"])
        full = torch.cat([chat, torch.tensor([ids])], dim=1).to(input_device(model))
        relevance = token_relevance(model, full, chat.shape[1])
        features.append(monitor_features(relevance))
        labels.append(token_labels)
        patient.append(np.full(len(ids), i))
        token_ids.append(np.array(ids))
    return ProvenanceData(np.concatenate(features), np.concatenate(labels),
                          np.concatenate(patient), np.concatenate(token_ids))


_WORD = re.compile(r"[A-Za-z0-9]+(?:[./][0-9]+)*")


def copy_labels(tokenizer, record: str, ids, min_words: int = 2) -> np.ndarray:
    """One label per token id of a text the generator did not write (1 = memory).

    Strict copy rule: a token is "record" (0) when most of its non-space characters lie in a run
    of >= min_words consecutive whole words (letters/digits, e.g. "145/95" is one word) that
    occurs as the same run of whole words in the record. Limits: a fact restated in other words
    counts as memory; a two-word phrase that the record happens to contain (e.g. "chest pain")
    counts as record even when the model recalled it; single copied words ("Lisinopril") count
    as memory.
    """
    pieces = [tokenizer.decode([int(i)], skip_special_tokens=True) for i in ids]
    text = "".join(pieces)
    record_words = [m.group() for m in _WORD.finditer(record)]
    runs = {tuple(record_words[a:b]) for a in range(len(record_words))
            for b in range(a + min_words, len(record_words) + 1)}
    words = list(_WORD.finditer(text))
    copied = np.zeros(len(text), dtype=bool)
    i = 0
    while i < len(words):
        best = 0   # the longest run of words starting at i that the record holds
        for j in range(i + min_words, len(words) + 1):
            if tuple(w.group() for w in words[i:j]) in runs:
                best = j
            elif j > i + min_words:
                break
        if best:
            copied[words[i].start():words[best - 1].end()] = True
            i = best
        else:
            i += 1
    labels, pos = [], 0
    for piece in pieces:
        mask = [copied[pos + k] for k, c in enumerate(piece) if not c.isspace()]
        labels.append(CONTEXTUAL if mask and 2 * sum(mask) > len(mask) else PARAMETRIC)
        pos += len(piece)
    return np.array(labels, dtype=int)


def summary_labels(tokenizer, record: str, ids) -> tuple[np.ndarray, str]:
    """Labels (1 = memory) for generated token ids, and which rule gave them.

    Where the generated text is the start of the reference summary the generator writes for
    this record (`course_model.handover`, stored for the records of `handover_examples` and
    the course's own record), its exact spans label every token ("exact spans");
    elsewhere (another model's wording) the strict copy rule of `copy_labels` does.
    """
    ids = [int(i) for i in ids]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    segments = reference_segments(record)
    reference = "".join(t for t, _ in segments) if segments else ""
    if segments and text.strip() and reference.startswith(text):
        ref_ids, labels = span_labels(tokenizer, reference, segments)
        if ref_ids[:len(ids)] == ids:
            return labels[:len(ids)], "exact spans"
    return copy_labels(tokenizer, record, ids), "strict copy rule"


TARGET_BALANCED_ACCURACY = 0.80


def held_out_monitor(model, tokenizer, n_train: int = 5, n_test: int = 3, *, token_relevance):
    """Fit the monitor on n_train generated patients, score it on n_test held-out patients.

    Held-out patients come from the generator's "eval" split: names the course model never
    saw, and none of the training patients. Call inside `attnlrp(model)`.
    Returns (monitor, test data, score dict with balanced accuracy and ROC AUC).
    """
    from utils.monitor import fit_monitor, score_against_truth

    train = provenance_dataset(model, tokenizer, handover_examples(range(n_train), "train"),
                               token_relevance=token_relevance)
    test = provenance_dataset(model, tokenizer, handover_examples(range(n_test), "eval"),
                              token_relevance=token_relevance)
    monitor = fit_monitor(train.features, train.labels)
    p_memory = monitor.predict_proba(test.features)[:, 1]
    return monitor, test, score_against_truth(p_memory > 0.5, test.labels.astype(bool), p_memory)


def monitor_verdict(result: dict, target: float = TARGET_BALANCED_ACCURACY) -> tuple[bool, str]:
    """(holds, sentence): does a monitor's score reach `target` balanced accuracy and beat the
    majority baseline? The sentence states the figures either way."""
    holds = (result["balanced accuracy"] >= target
             and result["accuracy"] > result["majority baseline"])
    return holds, (f"balanced accuracy {result['balanced accuracy']:.2f} (target {target:.2f}, "
                   f"any constant guess 0.50), accuracy {result['accuracy']:.2f} vs majority "
                   f"baseline {result['majority baseline']:.2f}, ROC AUC "
                   f"{result.get('ROC AUC', float('nan')):.2f} on {result['tokens']} tokens")


# ---------------------------------------------------------------------------------------------
# Summaries reworded: the same facts, other words

# Linking words of the generator's summaries, and the held-out wording that replaces them.
REWORDED_LINKS = {", admitted with ": ", came in with ", ". Background: ": ". Known for ",
                  " Takes ": " Currently on ", " Obs: ": " Observations: ",
                  ". Bloods: ": ". Blood results: ", ". On exam: ": ". Examination found ",
                  ". States: ": ". The patient says: ", " Plan: ": " Next step: "}
_HISTORY = re.compile(r"^(.*) \(diagnosed (\d+)\)(?:, smoker \((\d+) years\))?$")
_VITALS = re.compile(r"^BP (\S+), HR (\S+), Temp (\S+)$")


def reworded_example(example: dict) -> dict:
    """The same record with its summary in a held-out wording, every span keeping its source.

    example: a dict of `handover_examples` (record, messages, summary, segments, fields). The
    linking words change (`REWORDED_LINKS`), and record facts are restated so that few runs of
    two words repeat the record: "Smith, John" for "John Smith", "10mg of Lisinopril daily",
    "blood pressure 145/95, pulse 88", a lower-case complaint, "Hypertension since 2019, a smoker
    for 20 years". String matching against the record misses such restated facts; the tokens
    still come from the record. Returns a new dict of the same keys.
    """
    record, memory = "record", "memory"
    fields = example["fields"]
    segments = []
    for text, source in example["segments"]:
        history, vitals = _HISTORY.match(text), _VITALS.match(text)
        if source == memory:
            segments.append((REWORDED_LINKS.get(text, text), memory))
        elif text == fields["name"] and " " in text:
            first, last = text.split(" ", 1)
            segments += [(last, record), (", ", memory), (first, record)]
        elif text == fields["complaint"]:
            segments.append((text.lower(), record))
        elif text == fields["history"] and history:
            segments += [(history.group(1), record), (" since ", memory), (history.group(2), record)]
            if history.group(3):
                segments += [(", a smoker for ", memory), (history.group(3), record),
                             (" years", memory)]
        elif text == fields["medication"] and len(text.split(" ", 2)) == 3:
            drug, dose, frequency = text.split(" ", 2)
            segments += [(dose, record), (" of ", memory), (drug, record), (" ", memory),
                         (frequency, record)]
        elif text == fields["vitals"] and vitals:
            segments += [("blood pressure ", memory), (vitals.group(1), record),
                         (", pulse ", memory), (vitals.group(2), record),
                         (", temperature ", memory), (vitals.group(3), record)]
        else:
            segments.append((text, source))
    return {**example, "summary": "".join(text for text, _ in segments), "segments": segments}


# ---------------------------------------------------------------------------------------------
# The monitor beside rules that read no head relevance

BASELINES = ("token identity (majority label per token id)", "string match (copy rule)",
             "token appears in the prompt")


def baseline_scores(tokenizer, train: ProvenanceData, examples, test: ProvenanceData) -> dict:
    """p(memory) [n_test_tokens] of three rules that read no head relevance, per `BASELINES`.

    token identity: each token id's share of memory labels among the training tokens (a token id
    never seen in training: the training share overall); string match: `copy_labels` against
    each example's record; in the prompt: memory unless the token id occurs in the chat prompt.
    examples: the test examples, in the order of test.patient.
    """
    if train.token_ids is None or test.token_ids is None:
        raise ValueError("The data sets need token_ids: build them with provenance_dataset.")
    overall = float(train.labels.mean())
    share = {}
    for token, label in zip(train.token_ids.tolist(), train.labels.tolist()):
        share.setdefault(token, []).append(label)
    identity = np.array([np.mean(share[t]) if t in share else overall
                         for t in test.token_ids.tolist()])
    string_match, in_prompt = [], []
    for i, example in enumerate(examples):
        ids = test.token_ids[test.patient == i]
        string_match.append(copy_labels(tokenizer, example["record"], ids).astype(float))
        prompt = set(prompt_ids(tokenizer, example["messages"])[0].tolist())
        in_prompt.append(np.array([float(int(t) not in prompt) for t in ids]))
    return dict(zip(BASELINES, (identity, np.concatenate(string_match), np.concatenate(in_prompt))))


def balanced_correct(p_memory, labels) -> np.ndarray:
    """Per token [n]: 1 if the prediction (p > 0.5) is right, weighted by n / (2 * n_class), so
    that the mean over tokens is the balanced accuracy (paired comparisons of two monitors
    then compare these per-token values)."""
    labels = np.asarray(labels).astype(bool)
    correct = (np.asarray(p_memory) > 0.5) == labels
    weights = np.where(labels, len(labels) / (2 * max(labels.sum(), 1)),
                       len(labels) / (2 * max((~labels).sum(), 1)))
    return correct * weights


def rule_features(tokenizer, train: ProvenanceData, examples, test: ProvenanceData) -> np.ndarray:
    """[n_test_tokens, 3]: the `BASELINES`' p(memory) side by side, as features of a monitor."""
    scores = baseline_scores(tokenizer, train, examples, test)
    return np.stack([scores[name] for name in BASELINES], axis=1)


def training_rule_features(tokenizer, train: ProvenanceData, examples) -> np.ndarray:
    """`rule_features` of the training tokens themselves [n_train_tokens, 3]: each patient's
    token-identity rule is learned from the other training patients, so that no token's own
    label sets its feature (the held-out tokens get the same treatment: rules learned elsewhere).
    examples: the training examples, in the order of train.patient."""
    if train.token_ids is None:
        raise ValueError("The training data needs token_ids: build it with provenance_dataset.")
    rows = np.zeros((len(train.labels), len(BASELINES)))
    for i, example in enumerate(examples):
        mine = train.patient == i
        others = ProvenanceData(train.features[~mine], train.labels[~mine], train.patient[~mine],
                                train.token_ids[~mine])
        alone = ProvenanceData(train.features[mine], train.labels[mine],
                               np.zeros(int(mine.sum()), dtype=int), train.token_ids[mine])
        rows[mine] = rule_features(tokenizer, others, [example], alone)
    return rows


RULES = "the three rules together (LDA)"
RULES_AND_RELEVANCE = "the three rules + head relevance (LDA)"


def fit_monitors(tokenizer, train: ProvenanceData, train_examples) -> dict:
    """The three monitors fitted on the same training tokens: on head relevance alone
    ("relevance", features `monitor_features`), on the rules' outputs alone (`RULES`, features
    `rule_features`) and on both (`RULES_AND_RELEVANCE`: rules first, then relevance)."""
    from utils.monitor import fit_monitor

    rules = training_rule_features(tokenizer, train, train_examples)
    return {"relevance": fit_monitor(train.features, train.labels),
            RULES: fit_monitor(rules, train.labels),
            RULES_AND_RELEVANCE: fit_monitor(np.hstack([rules, train.features]), train.labels)}


def monitor_and_baselines(model, tokenizer, train_examples, test_sets: dict, *, token_relevance):
    """Fit the monitor on `train_examples`; score it and the `BASELINES` on each test set, and
    two more monitors: one LDA on the three rules' outputs alone (`RULES`) and one on the rules
    plus head relevance (`RULES_AND_RELEVANCE`): the gap between those two is what head
    relevance adds to the rules.

    test_sets: name -> examples (e.g. held-out patients; the same patients reworded). Call
    inside `attnlrp(model)`. Returns (monitor, rows: one dict per test set and method with
    balanced accuracy, ROC AUC, tokens and patients, per-token: name -> {method: balanced
    correctness [n]}, the labels' test data per set).
    """
    from utils.monitor import score_against_truth

    train = provenance_dataset(model, tokenizer, train_examples, token_relevance=token_relevance)
    monitors = fit_monitors(tokenizer, train, train_examples)
    monitor = monitors["relevance"]
    rows, per_token = [], {}
    for name, examples in test_sets.items():
        test = provenance_dataset(model, tokenizer, examples, token_relevance=token_relevance)
        rules = rule_features(tokenizer, train, examples, test)
        methods = {"monitor (head relevance)": monitor.predict_proba(test.features)[:, 1],
                   **dict(zip(BASELINES, rules.T)),
                   RULES: monitors[RULES].predict_proba(rules)[:, 1],
                   RULES_AND_RELEVANCE: monitors[RULES_AND_RELEVANCE].predict_proba(
                       np.hstack([rules, test.features]))[:, 1]}
        per_token[name] = {}
        for method, p in methods.items():
            score = score_against_truth(p > 0.5, test.labels.astype(bool), p)
            rows.append({"test set": name, "method": method,
                         "balanced accuracy": score["balanced accuracy"],
                         "ROC AUC": score["ROC AUC"], "tokens": score["tokens"],
                         "patients": len(examples)})
            per_token[name][method] = balanced_correct(p, test.labels)
    return monitor, rows, per_token


def relevance_over_rules(per_token: dict) -> dict[str, str]:
    """Per test set: what head relevance adds to the three rules, as a sentence with the
    difference in balanced accuracy (`RULES_AND_RELEVANCE` - `RULES`), its paired bootstrap
    interval over tokens, and n."""
    from utils.stats import paired_interval

    lines = {}
    for name, methods in per_token.items():
        if RULES not in methods or RULES_AND_RELEVANCE not in methods:
            raise ValueError(f"Test set {name!r} lacks the rules' monitors: build per_token "
                             "with monitor_and_baselines.")
        diff = paired_interval(methods[RULES_AND_RELEVANCE], methods[RULES])
        lines[name] = (f"rules + head relevance {methods[RULES_AND_RELEVANCE].mean():.2f} vs the "
                       f"rules alone {methods[RULES].mean():.2f}: head relevance adds {diff} "
                       f"(95 % bootstrap over tokens), n = {diff.n} tokens")
    return lines


def adds_over_baselines(per_token: dict, margin: float = 0.02) -> dict[str, tuple[bool, str]]:
    """Per test set: does the monitor beat the best baseline's balanced accuracy by more than
    `margin`, with the paired bootstrap interval of the difference (over tokens) above `margin`?
    (holds, sentence with the difference, its interval and n)."""
    from utils.stats import paired_interval

    verdicts = {}
    for name, methods in per_token.items():
        monitor = methods["monitor (head relevance)"]
        best = max(BASELINES, key=lambda m: methods[m].mean())
        diff = paired_interval(monitor, methods[best])
        holds = diff.low > margin
        verdicts[name] = (holds, f"monitor {monitor.mean():.2f} vs the best rule, {best}, "
                                 f"{methods[best].mean():.2f}: difference in balanced accuracy "
                                 f"{diff} (95 % bootstrap over tokens), n = {diff.n} tokens")
    return verdicts
