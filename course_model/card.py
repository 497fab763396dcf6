"""Write the model card (README.md) and loss_curve.png next to the exported model.

The card is `card_template.md` filled from the model folder's train_info.json (written by
train.export) and eval.json (written by evaluate), never the working folder's copy, which
every scratch export overwrites, and from the curriculum's stage table (mixes, families);
its history section is `history.json`. `python -m course_model.card` rewrites both files.
"""
from __future__ import annotations

import json
from pathlib import Path
from string import Template

from course_model import MODEL_DIR
from course_model.curriculum import RECIPES, SHIPPED_RECIPE, STAGES, own_stages, stage_order
from course_model.evaluate import THRESHOLDS
from course_model.families import family

HERE = Path(__file__).parent


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
    for n in stage_order()[1:]:
        start = info["run"].get(f"stage{n}_start")
        if start:
            ax.axvline(start, color="grey", ls="--", lw=1)
            ax.text(start, ax.get_ylim()[1] * 0.95, f" stage {n}", color="grey", va="top")
    ax2 = ax.twinx()
    ax2.plot([p[0] for p in probe], [p[1] for p in probe], color="C3", lw=1,
             label="repeat-copy probe")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("repeat-copy accuracy", color="C3")
    ax.set_title("Course model training")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(rows) -> str:
    return "\n".join("| " + " | ".join(str(c) for c in r) + " |" for r in rows)


def _stages_run(run: dict) -> list[int]:
    """The curriculum's stages the run began (stage 1 always)."""
    return [n for n in stage_order() if n == 1 or run.get(f"stage{n}_start") is not None]


def _recipe_lines(name: str) -> tuple[str, str]:
    """What the named recipe trains where, and how to run the others (from the table)."""
    def where(r):
        by_device, device = {}, None
        for n, st in r.stages.items():
            device = st.device or device or "cpu"
            by_device.setdefault(device, []).append(n)
        return ", ".join(
            (f"stage {ns[0]}" if len(ns) == 1 else f"stages {ns[0]}-{ns[-1]}")
            + (" on one CUDA GPU" if d == "cuda" else " on the CPU") for d, ns in by_device.items())
    others = [f"`make model RECIPE={k}` trains the {k} recipe instead (hidden "
              f"{r.config['hidden_size']}; {where(r)})" for k, r in RECIPES.items() if k != name]
    return where(RECIPES[name]), "; ".join(others)


def _corpus_rows(run, hp, corp) -> list:
    copies = {int(k): v for k, v in hp.get("corpus_copies", {}).items()}
    rows = []
    for n in _stages_run(run):
        k = copies.get(n, 1)
        seeds = "1 (seed 0)" if k == 1 else f"{k} (seeds 0-{k - 1})"
        rows.append((n, f"{corp[f'stage{n}_docs']:,}", f"{corp[f'stage{n}_chars']:,}",
                     f"{corp[f'stage{n}_tokens']:,}", f"{corp[f'stage{n}_rows']:,}", seeds,
                     f"`{corp.get(f'stage{n}_sha256', '-')}`"))
    return rows


def _mix_rows(stages: list[int]) -> list:
    rows = []
    for n in stages:
        st = STAGES[n]
        mix = ", ".join(f"{k} {v:.0%}" for k, v in st.mix.items())
        form = (f"all answers of {st.spaced_answers:.0%} of documents, half of the rest"
                if st.spaced_answers else "half of the answers")
        rows.append((n, mix, form))
    return rows


def _family_rows(stages: list[int]) -> list:
    keys = sorted({k for n in stages for k in STAGES[n].mix})
    return [(f"`{k}`", family(k).about, family(k).heldout) for k in keys]


def _schedule_rows(run, hp, seq_len) -> list:
    ran = _stages_run(run)
    starts = {n: (0 if n == 1 else run[f"stage{n}_start"]) for n in ran}
    ends = {n: starts[ran[i + 1]] if i + 1 < len(ran) else run["step"] for i, n in enumerate(ran)}
    procs = hp.get("world", 1)
    rows = []
    for n, start in starts.items():
        if n == 1:
            lr = f"warmup {hp['warmup']} steps to {hp['lr']}, then constant"
        elif f"stage{n}" in hp:   # a stage with its own settings
            st = hp[f"stage{n}"]
            lr = (f"warmup {st[f'warmup_stage{n}']} steps to {st[f'lr_stage{n}']}, cosine to "
                  f"{st[f'lr_min_stage{n}']} (fresh AdamW moments)")
        else:
            lr = f"cosine {hp[f'lr_stage{n}']} -> {hp['lr_min']}"
        own = hp.get(f"stage{n}", hp) if STAGES[n].own_settings else hp
        device = (run.get(f"stage{n}_device", "CPU") if STAGES[n].own_settings
                  else run.get("device", "CPU"))
        rows.append((n, f"{start:,}", f"{ends[n] - start:,}", lr,
                     f"{own['batch']} x {seq_len}", device, own.get("world", procs)))
    return rows


def _polish_note(run, hp) -> str:
    """The stage-1 rows mixed into the end of stage 2 (a phase that starts inside stage 2, or
    the recipe's last polish_steps)."""
    s2, s3 = run.get("stage2_start"), run.get("stage3_start")
    polish = [(st, ov["stage1_frac"]) for st, ov in hp.get("phases", [])
              if ov.get("stage1_frac") and s2 and s3 and s2 <= st < s3]
    if hp.get("polish_steps") and s3:
        polish = [(s3 - hp["polish_steps"], hp["polish_frac"])]
    if not polish:
        return ""
    return (f" The last {s3 - polish[0][0]:,} steps of stage 2 (from {polish[0][0]:,}) mix "
            f"stage-1 rows into {polish[0][1]:.0%} of each batch at the lowest learning rates.")


def _history() -> tuple[str, str]:
    h = json.loads((HERE / "history.json").read_text())
    rows = [(e["model"], e["tried"], e["result"], e["kept"]) for e in h["entries"]]
    return h["about"], _table(rows)


def card_values(info: dict, ev: dict) -> dict:
    """Every placeholder of card_template.md."""
    from course_model.train import hp_at
    run, hp, cfg, corp = info["run"], info["hp"], info["config"], info["corpus"]
    stages = _stages_run(run)
    seq_len = corp["seq_len"]
    recipe = next((k for k, r in RECIPES.items() if r.config == cfg), SHIPPED_RECIPE)
    recipe_line, other_recipes = _recipe_lines(recipe)
    s2 = run.get("stage2_start")
    own = [(run[f"stage{n}_start"], hp[f"stage{n}"]["batch"]) for n in own_stages()
           if run.get(f"stage{n}_start") is not None and f"stage{n}" in hp]

    def batch_at(step):
        later = [b for start, b in own if step >= start]
        return later[-1] if later else hp_at(hp, step)["batch"]
    positions = sum(batch_at(step) for step in range(run["step"])) * seq_len
    ends = {}  # wall seconds at the last logged step of each stage
    for _step, _loss, wall, stage in run["log"]:
        ends[stage] = wall
    order = stage_order()
    starts = {n: ends.get(order[i - 1], 0.0) if i else 0.0 for i, n in enumerate(order)}
    ns = ev["context_copy_new_shapes"]["per_shape"]
    cp = ev["course_prompts"]
    history_about, history_rows = _history()
    conflict_rows = [(r["prompt"], r["param_rank"], r["context_rank"],
                      "yes" if r["both"] else "no") for r in ev["conflict_both_top10"]["rows"]]
    eval_rows = [(k, f"{ev[k]['score']:.3f}", f"{th:.3f}", ev[k]["n"],
                  "yes" if ev[k]["score"] >= th - 1e-9 else "**no**")
                 for k, th in THRESHOLDS.items()]
    return dict(
        recipe=recipe, recipe_line=recipe_line, other_recipes=other_recipes,
        layers=cfg["num_hidden_layers"], heads=cfg["num_attention_heads"],
        all_heads=cfg["num_hidden_layers"] * cfg["num_attention_heads"],
        head_dim=cfg["head_dim"], hidden=cfg["hidden_size"], mlp=cfg["intermediate_size"],
        rope=f"{cfg['rope_theta']:.0f}", vocab=ev.get("vocab", 4096),
        parameters=f"{info['parameters']:,}",
        tokenizer_stages="-".join(str(n) for n in STAGES if STAGES[n].fits_tokenizer),
        seq_len=seq_len, corpus_rows=_table(_corpus_rows(run, hp, corp)),
        mix_rows=_table(_mix_rows(stages)), family_rows=_table(_family_rows(stages)),
        seed=hp["seed"], weight_decay=hp["weight_decay"],
        schedule_rows=_table(_schedule_rows(run, hp, seq_len)),
        induction_acc=hp["induction_acc"], stage1_max=hp["stage1_max"],
        probe_at_s2=f"{max((p[1] for p in run['probe'] if p[0] <= (s2 or 0)), default=0.0):.2f}",
        stage2_start=s2,
        repeat_rows_note=(f" Repeated random-token rows fill {hp['repeat_frac']:.0%} of every "
                          "stage-1 batch." if hp.get("repeat_frac") else ""),
        polish_note=_polish_note(run, hp),
        phases="; ".join(f"{st}: {json.dumps(ov)}" for st, ov in hp.get("phases", [])) or "none",
        steps=f"{run['step']:,}", positions=f"{positions / 1e6:.0f}M",
        wall_minutes=f"{run['wall_s'] / 60:.0f}",
        stage_minutes=", ".join(f"stage {k} {(ends[k] - starts[k]) / 60:.0f} min"
                                for k in sorted(ends)),
        final_loss=f"{run['log'][-1][1]:.3f}" if run["log"] else "nan",
        eval_rows=_table(eval_rows),
        copy_numbers=f"{ev['context_copy']['numbers']:.2f}",
        copy_names=f"{ev['context_copy']['names']:.2f}",
        shapes=", ".join(f"{k} {v:.2f}" for k, v in ns.items()),
        failed_shapes=", ".join(k for k, v in ns.items() if v < 0.5) or "none",
        icl=f"{ev['icl_follow_demos']['score']:.2f}",
        icl_corrupted=f"{ev['icl_follow_demos']['course_corrupted']:.2f}",
        icl_clean=f"{ev['icl_follow_demos']['course_clean']:.2f}",
        translation=f"{ev['translation']['translation']:.2f}",
        opposite=f"{ev['translation']['opposite']:.2f}",
        translation_course=ev["translation"]["course"],
        conflict_rows=_table(conflict_rows),
        dust=repr(cp["dust"]["greedy"]), dust_top5=cp["dust"]["top5"],
        dust_answer=repr(cp["dust"]["greedy"].strip()),
        atlantic=repr(cp["atlantic"]["greedy"]),
        translation_greedy=repr(cp["translation"]["greedy"]),
        opposite_greedy=repr(cp["opposite"]["greedy"]),
        handover_greedy=repr(cp["handover"]["greedy"][:400]),
        facts=f"{ev['fact_recall']['score']:.2f}",
        conflicts_both=round(ev["conflict_both_top10"]["score"] * ev["conflict_both_top10"]["n"]),
        conflicts_n=ev["conflict_both_top10"]["n"],
        handover=f"{ev['handover_copy']['score']:.2f}",
        history_about=history_about, history_rows=history_rows,
        made=_made(run, hp), **_lesson_values(ev.get("lessons")))


def _made(run, hp) -> str:
    """One sentence on how the weights were made (a fine-tune of an exported model says so)."""
    if not hp.get("finetune_from"):
        return "Trained from scratch through the stages below."
    last = max(_stages_run(run))
    return (f"Stages 1-{last - 1} as recorded below, then stage {last} fine-tuned on the CPU "
            f"from the exported model of stage {last - 1} (`python -m course_model.train "
            f"--finetune-from {hp['finetune_from']} --stage {last}`, its tokenizer kept).")


def _lesson_values(les: dict | None) -> dict:
    """The lessons section of eval.json as card tables (empty notes when there is none)."""
    if not les:
        return dict(lesson_rows="| (no lessons section in eval.json) | | | |", fv_rows="",
                    lesson_notes="")
    from course_model.lessons import THRESHOLDS as LT
    rows = [(k, f"{les['scores'][k]:.3f}", ("< " if k == "fv_random_gain_max" else ">= ")
             + f"{th:.2f}", "yes" if les["pass"][k] else "**no**") for k, th in LT.items()]
    fv = les["function_vectors"]
    fv_rows = [(t, r["n"], f"{r['zero_shot']:.2f}", f"{r['with_vector']:.2f}",
                f"{r['random_heads']:.2f}", f"{r['icl_5_demos']:.2f}")
               for t, r in fv["per_task"].items()]
    m = fv["mean"]
    fv_rows.append(("**mean**", "", f"{m['zero_shot']:.2f}", f"{m['with_vector']:.2f}",
                    f"{m['random_heads']:.2f}", f"{m['icl_5_demos']:.2f}"))
    se, at, co = les["sentiment"], les["atlantic"], les["conflicts"]
    notes = [
        f"- Function vectors: heads {fv['heads']} (random control {fv['random_heads']}), "
        f"added after layer {fv['layer']}. On the training words (their pairs appear in task "
        "formats in the corpus; not a threshold): "
        + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in fv["training_words_mean"].items())
        + ".",
        f"- Atlantic prompt answers {at['answer']!r}; held-out descriptive questions: the answer "
        f"starts with the asked list {at['heldout_asked_list']:.2f}, with another list of the "
        f"passage {at['heldout_other_list']:.2f} (n {at['n_heldout']}).",
        f"- Sentiment, course prompts (clean / corrupted greedy label, gaps in nats): "
        + "; ".join(f"{r['label']} -> {r['clean']} ({r['clean_gap']:+.1f}) / {r['corrupted']} "
                    f"({r['corrupted_gap']:+.1f})" for r in se["course"])
        + f". Held-out prompts (n {se['n_heldout']}, chance {se['chance']}): clean "
        f"{se['heldout_clean']:.2f}, corrupted follows the swap {se['heldout_corrupted']:.2f}.",
        "- Conflicts over made-up facts, memory answers by how often a fact was seen: "
        + ", ".join(f"{k} {v:.2f}" for k, v in co["memory_rate"].items())
        + f" ({co['n_per_tier']} facts each).",
    ]
    if "transplant" in les:
        tr = les["transplant"]["number_rate"]
        notes.append(
            f"- Transplant (notebook 03) over {les['transplant']['n_pairs']} held-out pairs: the "
            f"{les['transplant']['k']} heads that read a quantity question make a descriptive "
            f"question's answer a number {tr['task_heads']:.2f} of the time; random heads "
            f"{tr['random_heads']:.2f}; no transplant {tr['before']:.2f}.")
    if "monitor" in les:
        mo = les["monitor"]
        notes.append(
            f"- Provenance monitor (notebook 04), fitted on {mo['n_train_patients']} patients, "
            f"scored on {mo['n_test_patients']} held-out patients' greedy summaries "
            f"({mo['tokens']} tokens): balanced accuracy {mo['balanced accuracy']:.2f}, ROC AUC "
            f"{mo['ROC AUC']:.2f}, accuracy {mo['accuracy']:.2f} against a majority baseline of "
            f"{mo['majority baseline']:.2f}.")
    if "everyday" in les:
        ed, ic = les["everyday"], les["everyday"]["in_corpus"]
        notes.append(
            "- Everyday wording (`course_model/everyday.py`: key words the corpus never uses), "
            "each beside its in-corpus held-out twin: sentiment clean "
            f"{ed['sentiment']['clean']:.2f} ({ic['sentiment_clean']:.2f}), follows the swap "
            f"{ed['sentiment']['corrupted']:.2f} ({ic['sentiment_corrupted']:.2f}); descriptive "
            f"answers start with the asked list {ed['describe']['asked_list']:.2f} "
            f"({ic['describe_asked_list']:.2f}); word tasks with 5 demonstrations "
            f"{ed['word_tasks_mean']:.2f} ({ic['word_tasks_icl_5_demos']:.2f}).")
    return dict(lesson_rows=_table(rows), fv_rows=_table(fv_rows), lesson_notes="\n".join(notes))


def write_card(model_dir=MODEL_DIR) -> None:
    info = json.loads((model_dir / "train_info.json").read_text())
    ev = json.loads((model_dir / "eval.json").read_text())
    loss_curve(info, model_dir / "loss_curve.png")
    text = Template((HERE / "card_template.md").read_text()).substitute(card_values(info, ev))
    (model_dir / "README.md").write_text(text)


if __name__ == "__main__":
    write_card()
