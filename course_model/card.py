"""Write the model card (README.md) and loss_curve.png next to the exported model.

Reads the model folder's train_info.json (written by train.export) and eval.json (written by
evaluate), never the working folder's copy, which every scratch export overwrites. `python -m course_model.card` rewrites both files.
"""
from __future__ import annotations

import json

from course_model import MODEL_DIR
from course_model.corpus import STAGE1_MIX, STAGE2_MIX
from course_model.corpus_stage3 import MIX as STAGE3_MIX
from course_model.corpus_stage3 import SPACE_AFTER_SPLIT as STAGE3_SPACE_AFTER
from course_model.evaluate import THRESHOLDS


def loss_curve(info: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    log = info["run"]["log"]
    probe = info["run"]["probe"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    # a running mean over up to 10 logged batches where there are many small, noisy ones (the
    # CPU recipe logs ~450); a short log of large batches (the GPU recipe: 64) is drawn as is
    k = max(1, min(10, len(log) // 40))
    if k == 1:
        ax.plot([r[0] for r in log], [r[1] for r in log], lw=1.5, color="C0", label="batch loss")
    else:
        ax.plot([r[0] for r in log], [r[1] for r in log], lw=0.6, alpha=0.4, label="batch loss")
        sm = [sum(r[1] for r in log[max(0, i - k + 1):i + 1]) / len(log[max(0, i - k + 1):i + 1])
              for i in range(len(log))]
        ax.plot([r[0] for r in log], sm, lw=1.5, color="C0", label=f"running mean of {k}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    for name in ("stage2", "stage3", "stage4"):
        start = info["run"].get(f"{name}_start")
        if start:
            ax.axvline(start, color="grey", ls="--", lw=1)
            ax.text(start, ax.get_ylim()[1] * 0.95, f" stage {name[-1]}", color="grey",
                    va="top")
    ax2 = ax.twinx()
    ax2.plot([p[0] for p in probe], [p[1] for p in probe], color="C3", lw=1,
             label="repeat-copy probe")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("repeat-copy accuracy", color="C3")
    ax.set_title("Course model training")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_card(model_dir=MODEL_DIR) -> None:
    info = json.loads((model_dir / "train_info.json").read_text())
    ev = json.loads((model_dir / "eval.json").read_text())
    loss_curve(info, model_dir / "loss_curve.png")
    run, hp, cfg, corp = info["run"], info["hp"], info["config"], info["corpus"]
    rows = "\n".join(
        f"| {k} | {ev[k]['score']:.3f} | {th:.3f} | {ev[k]['n']} | "
        f"{'yes' if ev[k]['score'] >= th - 1e-9 else '**no**'} |" for k, th in THRESHOLDS.items())
    ns = ev["context_copy_new_shapes"]["per_shape"]
    shapes = ", ".join(f"{k} {v:.2f}" for k, v in ns.items())
    failed = [k for k, v in ns.items() if v < 0.5]
    cp = ev["course_prompts"]
    conf = "\n".join(f"| {r['prompt']} | {r['param_rank']} | {r['context_rank']} | "
                     f"{'yes' if r['both'] else 'no'} |" for r in ev["conflict_both_top10"]["rows"])
    mix1 = ", ".join(f"{k} {v:.0%}" for k, v in STAGE1_MIX.items())
    mix2 = ", ".join(f"{k} {v:.0%}" for k, v in STAGE2_MIX.items())
    mix3 = ", ".join(f"{k} {v:.0%}" for k, v in STAGE3_MIX.items())
    s2, s3, s4 = run.get("stage2_start"), run.get("stage3_start"), run.get("stage4_start")
    st4 = hp.get("stage4") if s4 is not None else None
    docs = sum(corp.get(f"stage{i}_docs", 0) for i in (1, 2, 3, 4))
    chars = sum(corp.get(f"stage{i}_chars", 0) for i in (1, 2, 3, 4))
    tokens = sum(corp.get(f"stage{i}_tokens", 0) for i in (1, 2, 3, 4))
    final_loss = run["log"][-1][1] if run["log"] else float("nan")
    ends = {}  # wall seconds at the last logged step of each stage
    for step, _loss, wall, stage in run["log"]:
        ends[stage] = wall
    starts = {1: 0.0, 2: ends.get(1, 0.0), 3: ends.get(2, 0.0), 4: ends.get(3, 0.0)}
    stage_minutes = ", ".join(f"stage {k} {(ends[k] - starts[k]) / 60:.0f} min"
                              for k in sorted(ends))
    world = hp.get("world", 1)
    gpu = hp.get("device", "cpu") != "cpu"
    if gpu:
        procs = f"one process on one {run.get('device', 'CUDA GPU')}"
    else:
        procs = ("one CPU thread" if world == 1 else f"data parallel over {world} one-thread "
                 "processes, each taking part of every batch")
    phases = "; ".join(f"{st}: {json.dumps(ov)}" for st, ov in hp.get("phases", []))
    probe_at_s2 = max((p[1] for p in run["probe"] if p[0] <= (s2 or 0)), default=0.0)
    # a stage-1 mix phase that starts inside stage 2 (a later one never applies)
    polish = [(st, ov["stage1_frac"]) for st, ov in hp.get("phases", [])
              if ov.get("stage1_frac") and s2 and s3 and s2 <= st < s3]
    if hp.get("polish_steps") and s3:
        polish = [(s3 - hp["polish_steps"], hp["polish_frac"])]
    polish = (f"The last {s3 - polish[0][0]:,} steps of stage 2 (from {polish[0][0]:,}) mix "
              f"stage-1 rows into {polish[0][1]:.0%} of each batch at the "
              "lowest learning rates." if polish else "")
    copies = {int(k): v for k, v in hp.get("corpus_copies", {}).items()}
    copy_rows = {i: corp.get(f"stage{i}_rows", 0) * copies.get(i, 1) for i in (1, 2, 3)}
    from course_model.train import hp_at
    positions = sum(st4["batch"] if st4 and step >= s4 else hp_at(hp, step)["batch"]
                    for step in range(run["step"])) * corp["seq_len"]
    corpus_copies = ("" if not copies else
                     " For the longer GPU run each stage's corpus is drawn from several "
                     "generator seeds (the corpus above plus more of the same size from the "
                     "next seeds; the tokenizer stays the same): "
                     + ", ".join(f"stage {i} x{copies.get(i, 1)} ({copy_rows[i]:,} rows)"
                                 for i in (1, 2, 3)) + ".")
    if gpu:
        story = (f"No hand-steered phases: repeated random-token rows fill {hp['repeat_frac']:.0%} "
                 f"of every stage-1 batch and weight decay is {hp['weight_decay']} from the "
                 "start (where the CPU recipe ended up after steering by hand); the probe "
                 f"read {probe_at_s2:.2f} at step {s2}. TF32 matrix products, deterministic "
                 "kernels and math attention: a replay on a second machine of the same kind "
                 "gave bit-identical weights.")
    else:
        story = ("The first 2,800 steps formed no induction heads (repeat-copy probe 0.00); "
                 "extra rows of repeated random tokens alone did not help either; dropping "
                 "weight decay and raising lr and batch at step 4,000 did (probe "
                 f"{probe_at_s2:.2f} at step {s2}).")
    recipe = ("trains on one CUDA GPU (`course_model.train.HP_GPU`, `--recipe gpu`); "
              "`make model RECIPE=cpu` trains the CPU recipe instead (`HP` and `PHASES`, "
              "a 1.5M-parameter model, about 75 minutes on 2 cores, that misses more "
              "thresholds)" if gpu else "trains on 2 CPU cores")
    where = (f"on {run.get('device', 'one CUDA GPU')}, shared with a second training run"
             if gpu else "on a shared 2-core CPU")
    stage4_docs = f", {corp['stage4_docs']:,} stage 4" if st4 else ""
    if st4:
        where = f"in all: stages 1-3 {where}, stage 4 on the {run.get('stage4_device', 'CPU')}"
        stage4 = (f"\n- Stage 4 (`course_model/corpus_stage4.py`, {corp.get('stage4_docs', 0):,} "
                  f"documents, sha256 `{corp.get('stage4_sha256', '-')}`): a short fine-tune from "
                  f"step {s4} for {run['step'] - s4:,} steps on more ways of asking for the same "
                  "fact (a name asked for through a noun, \"What is the name of the coach of "
                  "...\", a role in front of a name, things that carry a name, prizes, two "
                  "durations told apart by their verbs, lists with and without articles), in "
                  "stage 3's mix. It ran on the "
                  f"{run.get('stage4_device', 'CPU')} ({st4['world']} one-thread processes), "
                  f"batch {st4['batch']} x {corp['seq_len']} tokens, fresh AdamW moments, lr "
                  f"warmup {st4['warmup_stage4']} steps to {st4['lr_stage4']} then cosine to "
                  f"{st4['lr_min_stage4']}, so it replays without a GPU.")
    else:
        stage4 = ""
    text = f"""# course-llama: the course's own small Llama

A `LlamaForCausalLM` trained from scratch on a generated corpus (`course_model/corpus.py`) so
that every experiment of the course shows something real on a laptop CPU, offline.
Reproduce with `make model` (`python -m course_model.train`), which {recipe}; evaluate with
`make eval-model`.

    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager")
    tok = AutoTokenizer.from_pretrained(path)

## Configuration
| | |
|---|---|
| layers x heads | {cfg['num_hidden_layers']} x {cfg['num_attention_heads']} = {cfg['num_hidden_layers'] * cfg['num_attention_heads']} heads (head_dim {cfg['head_dim']}) |
| hidden / MLP | {cfg['hidden_size']} / {cfg['intermediate_size']} (SwiGLU), RMSNorm, RoPE theta {cfg['rope_theta']:.0f} |
| embeddings | tied, vocab {ev.get('vocab', 4096)} |
| parameters | {info['parameters']:,} (fp32 safetensors) |
| tokenizer | byte-level BPE (`tokenizers`), digits split one per token, BOS `<|begin_of_text|>` prepended, pad `<|pad|>` != eos `<|end_of_text|>`, Llama-3.2-style chat template (`<|start_header_id|>role<|end_header_id|>` ... `<|eot_id|>`) |

## Training
- Corpus: {docs:,} documents ({corp['stage1_docs']:,} stage 1, {corp['stage2_docs']:,} stage 2,
  {corp.get('stage3_docs', 0):,} stage 3{stage4_docs}), {chars:,} characters, {tokens:,} tokens
  packed into rows of {corp['seq_len']}; sha256 of the generated jsonl: stages 1-2
  `{corp['sha256']}`, stage 3 `{corp.get('stage3_sha256', '-')}`. The tokenizer is fitted on
  stages 1-2.{corpus_copies}
- Stage 1 mix: {mix1}. Stage 2 mix: {mix2}. Stage 3 mix (`course_model/corpus_stage3.py`): {mix3}.
- Curriculum: stage 1 until the repeated-random-token probe reached {hp['induction_acc']}
  (or step {hp['stage1_max']}); stage 2 (compositional reading comprehension) began at step
  {s2} and ran {(s3 or run['step']) - (s2 or run['step'])} steps; stage 3 (practice on names,
  bare answers, lists, question-first passages, several numbers of one kind, remapped
  demonstrations and chat replies) began at step {s3} and ran
  {(s4 or run['step']) - (s3 or run['step'])} steps. Stages 1-2 write an answer as "A: " + "Paris" or
  "A:" + " Paris" equally often; in stage 3 {STAGE3_SPACE_AFTER:.0%} of documents use the second form
  throughout, so after "A:" the model ranks " Paris" above a lone space.{stage4}
- AdamW (betas 0.9/0.95), starting with weight decay {hp['weight_decay']}, batch {hp['batch']} x {corp['seq_len']} tokens,
  lr {hp['lr']} (warmup {hp['warmup']}) in stage 1, cosine {hp['lr_stage2']} -> {hp['lr_min']} in stage 2
  and {hp.get('lr_stage3', '-')} -> {hp['lr_min']} in stage 3,
  gradient clip 1.0, seed {hp['seed']}, {procs}. Schedule changes (from step: settings):
  {phases or 'none'}.
  {story} {polish}
- Steps: {run['step']:,} ({positions / 1e6:.0f}M token
  positions); wall time {run['wall_s'] / 60:.0f} minutes {where} ({stage_minutes});
  final training loss {final_loss:.3f}.

![loss curve](loss_curve.png)

## Evaluation (held-out data only; `eval.json`)
| metric | score | threshold | n | pass |
|---|---|---|---|---|
{rows}

- context_copy: numbers {ev['context_copy']['numbers']:.2f}, names {ev['context_copy']['names']:.2f}.
- context_copy_new_shapes per shape: {shapes}.
- icl_follow_demos: the course's 4 corrupted prompts {ev['icl_follow_demos']['course_corrupted']:.2f},
  its clean prompts {ev['icl_follow_demos']['course_clean']:.2f}.
- translation {ev['translation']['translation']:.2f}, opposite {ev['translation']['opposite']:.2f};
  course prompts -> {ev['translation']['course']}.

Knowledge conflicts (rank of each answer's first differing token):

| prompt | parametric rank | context rank | both in top 10 |
|---|---|---|---|
{conf}

Course prompts (greedy):
- dust: {cp['dust']['greedy']!r} (top 5 {cp['dust']['top5']})
- Atlantic: {cp['atlantic']['greedy']!r}
- translation: {cp['translation']['greedy']!r}; opposite: {cp['opposite']['greedy']!r}
- handover (the course's record): {cp['handover']['greedy'][:400]!r}

## What it knows and what it cannot do (read with the table above)
- Copies numbers from a passage in trained passage shapes (numbers {ev['context_copy']['numbers']:.2f})
  and in new shapes close to them; the dust prompt gives {cp['dust']['greedy'].strip()!r}.
- Copies made-up names (names {ev['context_copy']['names']:.2f}); the misses among the
  examples in `eval.json` pick another name of the passage or run past the end of the name
  ("Salorvos" for "Salor"). New shapes it mostly fails ({', '.join(failed) or 'none'}) are
  shapes whose question words or layout are furthest from the trained ones (per-shape
  scores above).
- Facts: {ev['fact_recall']['score']:.2f} of the course's facts top-1 in statement and question
  form; misses are listed in `eval.json`.
- Knowledge conflicts: both answers are in the top 10 for {round(ev['conflict_both_top10']['score'] * 15)}
  of 15 course samples (table above); which one wins depends on the sample.
- In-context learning: remapped demonstration labels followed {ev['icl_follow_demos']['score']:.2f}
  of the time (the course's corrupted prompts {ev['icl_follow_demos']['course_corrupted']:.2f}).
- Translation into German over the trained vocabulary: {ev['translation']['translation']:.2f} exact;
  "write the opposite": {ev['translation']['opposite']:.2f}.
- Handover summaries: {ev['handover_copy']['score']:.2f} of the record fields are copied verbatim
  into greedy summaries of held-out patients, in the trained format.
- Cannot: hold a conversation, follow instructions outside the trained families, translate
  words outside its vocabulary, do arithmetic beyond memorised one-digit sums, or know anything
  not in the corpus. Prompts much longer than {corp['seq_len']} tokens are out of distribution.
- Each handover summary span in the corpus has a known source (`course_model.handover`):
  copied from the record or added from memory.
"""
    (model_dir / "README.md").write_text(text)


if __name__ == "__main__":
    write_card()
