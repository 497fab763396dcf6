"""Write the model card (README.md) and loss_curve.png next to the exported model.

Reads .cache/course_model/train_info.json (written by train.export) and eval.json
(written by evaluate). `python -m course_model.card` rewrites both files.
"""
from __future__ import annotations

import json

from course_model import MODEL_DIR, WORK_DIR
from course_model.corpus import STAGE1_MIX, STAGE2_MIX
from course_model.evaluate import THRESHOLDS


def loss_curve(info: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    log = info["run"]["log"]
    probe = info["run"]["probe"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot([r[0] for r in log], [r[1] for r in log], lw=0.6, alpha=0.4, label="batch loss")
    k = 10  # running mean over 10 logged batches (batches are tiny, so single values are noisy)
    sm = [sum(r[1] for r in log[max(0, i - k + 1):i + 1]) / len(log[max(0, i - k + 1):i + 1])
          for i in range(len(log))]
    ax.plot([r[0] for r in log], sm, lw=1.5, color="C0", label="running mean")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    s2 = info["run"].get("stage2_start")
    if s2:
        ax.axvline(s2, color="grey", ls="--", lw=1)
        ax.text(s2, ax.get_ylim()[1] * 0.95, " stage 2", color="grey", va="top")
    ax2 = ax.twinx()
    ax2.plot([p[0] for p in probe], [p[1] for p in probe], color="C3", lw=1,
             label="repeat-copy probe")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("repeat-copy accuracy", color="C3")
    ax.set_title("Course model training")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_card(model_dir=MODEL_DIR) -> None:
    info = json.loads((WORK_DIR / "train_info.json").read_text())
    ev = json.loads((model_dir / "eval.json").read_text())
    loss_curve(info, model_dir / "loss_curve.png")
    run, hp, cfg, corp = info["run"], info["hp"], info["config"], info["corpus"]
    rows = "\n".join(
        f"| {k} | {ev[k]['score']:.3f} | {th:.3f} | {ev[k]['n']} | "
        f"{'yes' if ev[k]['score'] >= th - 1e-9 else '**no**'} |" for k, th in THRESHOLDS.items())
    ns = ev["context_copy_new_shapes"]["per_shape"]
    shapes = ", ".join(f"{k} {v:.2f}" for k, v in ns.items())
    cp = ev["course_prompts"]
    conf = "\n".join(f"| {r['prompt']} | {r['param_rank']} | {r['context_rank']} | "
                     f"{'yes' if r['both'] else 'no'} |" for r in ev["conflict_both_top10"]["rows"])
    mix1 = ", ".join(f"{k} {v:.0%}" for k, v in STAGE1_MIX.items())
    mix2 = ", ".join(f"{k} {v:.0%}" for k, v in STAGE2_MIX.items())
    final_loss = run["log"][-1][1] if run["log"] else float("nan")
    phases = "; ".join(f"{st}: {json.dumps(ov)}" for st, ov in hp.get("phases", []))
    text = f"""# course-llama: the course's own small Llama

A `LlamaForCausalLM` trained from scratch on a generated corpus (`course_model/corpus.py`) so
that every experiment of the course shows something real on a laptop CPU, offline.
Reproduce with `make model` (`python -m course_model.train`); evaluate with `make eval-model`.

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
- Corpus: {corp['stage1_docs']:,} stage-1 + {corp['stage2_docs']:,} stage-2 documents,
  {corp['stage1_chars'] + corp['stage2_chars']:,} characters, {corp['stage1_tokens'] + corp['stage2_tokens']:,} tokens
  packed into rows of {corp['seq_len']}; sha256 of the generated jsonl `{corp['sha256']}`.
- Stage 1 mix: {mix1}. Stage 2 mix: {mix2}.
- Curriculum: stage 1 until the repeated-random-token probe reached {hp['induction_acc']}
  (or step {hp['stage1_max']}); stage 2 began at step {run.get('stage2_start')} and ran
  {run['step'] - (run.get('stage2_start') or run['step'])} steps.
- AdamW (betas 0.9/0.95), starting with weight decay {hp['weight_decay']}, batch {hp['batch']} x {corp['seq_len']} tokens,
  lr {hp['lr']} (warmup {hp['warmup']}) in stage 1, cosine {hp['lr_stage2']} -> {hp['lr_min']} in stage 2,
  gradient clip 1.0, seed {hp['seed']}, one CPU thread. Schedule changes (from step: settings),
  `course_model.train.PHASES`: {phases}.
  The first 2,800 steps formed no induction heads (repeat-copy probe 0.00); extra rows of
  repeated random tokens alone did not help either; dropping weight decay and raising lr and
  batch did (probe 0.00 -> 0.65 within ~1,750 steps). The last 700 steps (from 10,250) mix
  stage-1 rows into half of each batch at the lowest learning rate.
- Steps: {run['step']:,}; wall time {run['wall_s'] / 60:.0f} minutes on a shared 2-core CPU;
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
- Copies numbers from a passage reliably in trained passage shapes (numbers {ev['context_copy']['numbers']:.2f})
  and in new shapes close to them; the dust prompt gives the corrected figure.
- Copies made-up names poorly (names {ev['context_copy']['names']:.2f}): it often emits another
  name-like token sequence (a name is several BPE tokens, and the first one must be retrieved
  by the question, not induced by a repeat); new question shapes with names mostly fail.
- Facts: the statement stems of the course ("The capital of France is") are mostly right; bare
  question forms ("Q: What is the capital of France? A:") often are not (misses in eval.json).
- Knowledge conflicts: the parametric answer is usually top 1; the context answer is in the top 10
  for some samples only (table above).
- Translation into German over the trained vocabulary: {ev['translation']['translation']:.2f} exact;
  "write the opposite": {ev['translation']['opposite']:.2f} (misses mostly copy the sentence unchanged).
  The sentiment prompts do not follow remapped demo labels (icl_follow_demos
  {ev['icl_follow_demos']['score']:.2f}: the model leans on the review words, not the demos).
- Handover summaries copy most record fields in the trained format but garble the patient's
  name; the reply starts with a newline token (the training text tokenised the blank line after
  the assistant header differently from `apply_chat_template`).
- Cannot: hold a conversation, follow instructions outside the trained families, translate
  words outside its vocabulary, do arithmetic beyond memorised one-digit sums, or know anything
  not in the corpus. Prompts much longer than {corp['seq_len']} tokens are out of distribution.
- Each handover summary span in the corpus has a known source (`course_model.handover`):
  copied from the record or added from memory.
"""
    (model_dir / "README.md").write_text(text)


if __name__ == "__main__":
    write_card()
