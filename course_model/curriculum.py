"""The curriculum as one table: each stage's corpus (family mix, size) and, per recipe, its
training schedule (steps, learning rate, batch, device, processes, corpus copies).

    docs = generate(3, 1000, seed=0)     # stage 3's first 1,000 documents of generator seed 0
    hp = recipe_hp("gpu")                # the flat settings `course_model.train` reads

`generate` serves every stage: documents are drawn family by family with the stage's weights
from one seeded stream, so the first n documents of a corpus do not depend on its size.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from course_model.families import family
from course_model.families.text import SPLIT

SEQ_LEN = 320          # a handover chat (~290 tokens) fits in one packed row
CORPUS_SEED = 0        # the generator seed of each stage's first corpus


@dataclass(frozen=True)
class Stage:
    """One stage, declared once: its corpus (documents drawn from families ("name@version") with
    these weights, in this order: the draw depends on it) and how training runs it. Stages train
    in the order of their numbers; `course_model.train` and the card read them from `STAGES`.

    `stream` numbers the stage's batch stream: each stream is its own seeded permutation of the
    stage's rows per epoch, so it fixes which rows a step sees (a replay needs the same number;
    POLISH_STREAM is taken). A stage with `own_settings` trains with its own device, batch and
    process count (`hp["stage{n}"]`) and fresh optimizer moments; the others share the run's
    settings and come first."""
    number: int
    mix: dict[str, float]
    docs: int                     # documents in one corpus
    stream: int                   # the batch stream (see above)
    own_settings: bool = False    # its own device, batch, processes (see above)
    spaced_answers: float = 0.0   # share of documents writing every answer as "A:" + " Paris"
    fits_tokenizer: bool = False  # the tokenizer is fitted on these stages' documents


# stage 1's rows mixed into the end of stage 2 draw from this stream (kept: replays depend on it)
POLISH_STREAM = 3


_STAGE1_MIX = {"simple_reading@1": 0.25, "repeat@1": 0.25, "facts@1": 0.13, "conflict@1": 0.08,
               "instruction@1": 0.12, "icl@1": 0.09, "handover@1": 0.08}
_STAGE3_MIX = {"reading@2": 0.29, "layouts@1": 0.15, "facts@2": 0.10, "conflict@2": 0.07,
               "repeat@2": 0.06, "icl@2": 0.18, "handover@2": 0.08, "instruction@1": 0.05,
               "simple_reading@1": 0.02}


def _blend(first: dict[str, float], share: float, rest: dict[str, float]) -> dict[str, float]:
    """`first`, then every family of `rest` at `share` of its weight."""
    out = dict(first)
    for k, v in rest.items():
        out[k] = out.get(k, 0) + share * v
    return out


def _newer(mix: dict[str, float], **versions: int) -> dict[str, float]:
    """The same mix with some families at another version."""
    return {f"{k.split('@')[0]}@{versions[k.split('@')[0]]}" if k.split("@")[0] in versions
            else k: v for k, v in mix.items()}


_STAGE4_MIX = _newer(_STAGE3_MIX, reading=3, layouts=2)
# what each lesson needs, on top of 45% of stage 4's mix (so nothing is forgotten)
_STAGE5_NEW = {"word_task@1": 0.22, "icl@3": 0.15, "describe@1": 0.11, "familiar@1": 0.07}

# stream numbers are those the shipped model was trained with (3 is POLISH_STREAM)
STAGES = {
    1: Stage(1, _STAGE1_MIX, 120_000, stream=1, fits_tokenizer=True),
    2: Stage(2, _blend({"reading@1": 0.70}, 0.30, _STAGE1_MIX), 220_000, stream=2,
             fits_tokenizer=True),
    3: Stage(3, _STAGE3_MIX, 150_000, stream=4, spaced_answers=0.4),
    4: Stage(4, _STAGE4_MIX, 100_000, stream=5, own_settings=True, spaced_answers=0.4),
    5: Stage(5, _blend(_STAGE5_NEW, 0.45, _STAGE4_MIX), 60_000, stream=6, own_settings=True,
             spaced_answers=0.4),
}
# word tasks whose words belong to several tasks (function vectors), over 55% of stage 5's mix
STAGES[6] = Stage(6, _blend({"word_task@2": 0.45}, 0.55, _newer(STAGES[5].mix, word_task=2)),
                  50_000, stream=7, own_settings=True, spaced_answers=0.4)


def stage_order() -> list[int]:
    """The stages' numbers in training order, after checking the table: each key is its stage's
    number, stage 1 exists and shares the run's settings, stream numbers are distinct and not
    POLISH_STREAM, and no shared-settings stage follows one with its own settings. Read at call
    time, so a stage added to STAGES is trained and checked like the others."""
    order = sorted(STAGES)
    for n in order:
        if STAGES[n].number != n:
            raise ValueError(f"STAGES[{n}] holds stage {STAGES[n].number}: give it key "
                             f"{STAGES[n].number} or number {n}")
    if not order or order[0] != 1 or STAGES[1].own_settings:
        raise ValueError("the curriculum starts with stage 1, on the run's own settings (it "
                         "ends on the induction probe)")
    streams = [STAGES[n].stream for n in order]
    if len(set(streams)) < len(streams) or POLISH_STREAM in streams:
        raise ValueError(f"batch streams {streams} must be distinct and leave out "
                         f"{POLISH_STREAM} (POLISH_STREAM): give a new stage an unused number")
    own = [STAGES[n].own_settings for n in order]
    if own != sorted(own):
        raise ValueError("a stage on the run's shared settings may not follow a stage with its "
                         f"own settings (stages {order}, own settings {own})")
    return order


def own_stages() -> list[int]:
    """Stages that train with their own settings (device, batch, processes), in order."""
    return [n for n in stage_order() if STAGES[n].own_settings]


def generate(stage: int, n: int, seed: int, split: str = "train") -> list[str]:
    """n documents of curriculum stage `stage` from generator seed `seed` (deterministic)."""
    st = STAGES[stage]
    rng = random.Random(f"course-corpus-{stage}-{seed}")
    keys, weights = list(st.mix), list(st.mix.values())
    makers = {k: family(k).make for k in keys}
    docs = [makers[rng.choices(keys, weights=weights)[0]](rng, split) for _ in range(n)]
    if st.spaced_answers:
        # "A: " + "Paris" -> "A:" + " Paris" throughout a document, drawn from its own stream
        form_rng = random.Random(f"course-corpus-{stage}-form-{seed}")
        docs = [d.replace(" " + SPLIT, SPLIT + " ") if form_rng.random() < st.spaced_answers
                else d for d in docs]
    return docs


# ------------------------------------------------------------------------------ schedules
@dataclass(frozen=True)
class StageRun:
    """How a recipe trains one stage. steps None: stage 1 runs until the repeated-token probe
    reaches `induction_acc` (or `steps_max`). lr: (top, bottom) of a cosine, or stage 1's
    constant top after `warmup` steps; `warmup` also opens stage 4's cosine. batch rows of
    SEQ_LEN tokens, on `device` in `world` one-thread processes, over `copies` corpora of the
    stage (generator seeds CORPUS_SEED, CORPUS_SEED + 1, ...). `extra` holds the stage's own
    settings (flat hp keys)."""
    steps: int | None
    lr: tuple[float, float | None]
    warmup: int | None = None
    batch: int | None = None
    device: str | None = None
    world: int | None = None
    copies: int = 1
    steps_max: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """A model size and the schedule of each stage it trains. `settings` are recipe-wide (seed,
    weight decay, probe, checkpoint and log intervals); `phases` change settings from a step on
    ((from_step, overrides), applied in order: `course_model.train.hp_at`)."""
    config: dict
    stages: dict[int, StageRun]
    settings: dict
    phases: list = field(default_factory=list)


CONFIG_CPU = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=6,
                  num_attention_heads=8, num_key_value_heads=8, head_dim=16,
                  max_position_embeddings=2048, rope_theta=10000.0, rms_norm_eps=1e-5,
                  tie_word_embeddings=True, attention_dropout=0.0)
CONFIG_GPU = dict(CONFIG_CPU, hidden_size=256, intermediate_size=640, head_dim=32)
_SETTINGS = dict(seed=0, weight_decay=0.1, induction_acc=0.6, probe_every=250, ckpt_every=400,
                 log_every=50)

RECIPES = {
    # 2 CPU cores: a small model; the schedule steered by hand while it trained (phases)
    "cpu": Recipe(CONFIG_CPU, {
        1: StageRun(None, (3e-3, None), warmup=200, batch=3, world=2, steps_max=9000,
                    extra=dict(repeat_frac=0.0)),
        2: StageRun(3500, (2e-3, 2e-4)),
        3: StageRun(12000, (3e-3, 2e-4)),
    }, _SETTINGS, phases=[
        (2800, dict(repeat_frac=0.67)),
        (4000, dict(batch=4, lr=4e-3, weight_decay=0.0, repeat_frac=0.5)),
        (6000, dict(stage2_steps=4500)),
        # must start before stage 2 ends; a later entry never applies (train.late_phase_keys)
        (10000, dict(stage2_steps=5200, stage1_frac=0.5))]),
    # one CUDA GPU for stages 1-3 (deterministic kernels), stage 4 on the CPU
    "gpu": Recipe(CONFIG_GPU, {
        1: StageRun(None, (2e-3, None), warmup=200, batch=128, device="cuda", world=1,
                    copies=2, steps_max=700, extra=dict(repeat_frac=0.5)),
        2: StageRun(1400, (2e-3, 1e-4), copies=4, extra=dict(polish_steps=300, polish_frac=0.5)),
        3: StageRun(1400, (1.5e-3, 1e-4), copies=4),
        4: StageRun(1500, (3e-4, 3e-5), warmup=50, batch=8, device="cpu", world=2,
                    extra=dict(ckpt_every=250)),
        5: StageRun(1100, (3e-4, 3e-5), warmup=50, batch=8, device="cpu", world=2,
                    extra=dict(ckpt_every=100)),
    }, dict(_SETTINGS, weight_decay=0.0, probe_every=100, ckpt_every=500)),
}
# the shipped recipe plus stage 6 (word tasks shared between tasks), a fine-tune that was tried
# for function vectors and not shipped (the card's history says what it measured):
#   python -m course_model.train --recipe gpu-fv --run F --finetune-from <GA5 folder> --stage 6
RECIPES["gpu-fv"] = Recipe(CONFIG_GPU, {**RECIPES["gpu"].stages, 6: StageRun(
    1200, (4e-4, 4e-5), warmup=50, batch=8, device="cpu", world=2, extra=dict(ckpt_every=100))},
    RECIPES["gpu"].settings)
SHIPPED_RECIPE = "gpu"   # what `make model` replays


def recipe_stages(name: str) -> list[int]:
    """The stages recipe `name` trains, in order: the curriculum's first k stages (training
    runs them one after another, so a gap would leave the later ones untrained)."""
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}; the recipes are {sorted(RECIPES)}")
    order, have = stage_order(), sorted(RECIPES[name].stages)
    if have != order[:len(have)]:
        raise ValueError(f"recipe {name} schedules stages {have}, but training runs the "
                         f"curriculum's stages {order} in order from stage 1: schedule a prefix "
                         "of them (or add the missing stage to STAGES)")
    return have


def recipe_hp(name: str) -> dict:
    """The recipe as the flat settings `course_model.train` reads and records in hp.json:
    stage 1's "lr", "warmup", "batch", "stage1_max"; each later shared-settings stage n's length
    "stage{n}_steps" and top "lr_stage{n}", with one floor "lr_min"; each own-settings stage's
    settings nested under "stage{n}" (it runs with its own device and batch)."""
    r, order = RECIPES[name], recipe_stages(name)
    shared = [n for n in order if not STAGES[n].own_settings]
    floors = {r.stages[n].lr[1] for n in shared[1:]}
    if len(floors) > 1:
        raise ValueError(f"recipe {name}: stages {shared[1:]} share one lr floor")
    s1, st = r.stages[1], r.settings
    hp = dict(seed=st["seed"], batch=s1.batch, lr=s1.lr[0], warmup=s1.warmup,
              weight_decay=st["weight_decay"], stage1_max=s1.steps_max,
              induction_acc=st["induction_acc"], probe_every=st["probe_every"],
              ckpt_every=st["ckpt_every"], log_every=st["log_every"], world=s1.world)
    if floors:
        hp["lr_min"] = floors.pop()
    for n in shared:
        sn = r.stages[n]
        if n > 1:
            hp.update({f"stage{n}_steps": sn.steps, f"lr_stage{n}": sn.lr[0]})
        hp.update(sn.extra)
    hp["device"] = s1.device or "cpu"
    if any(r.stages[n].copies > 1 for n in order):
        # the shared stages always, an own-settings stage where it reads several corpora
        hp["corpus_copies"] = {n: r.stages[n].copies for n in order
                               if n in shared or r.stages[n].copies > 1}
    hp["config"] = r.config
    for n in order:
        if n not in shared:
            sn = r.stages[n]
            hp[f"stage{n}"] = {f"stage{n}_steps": sn.steps, f"lr_stage{n}": sn.lr[0],
                               f"lr_min_stage{n}": sn.lr[1], f"warmup_stage{n}": sn.warmup,
                               "batch": sn.batch, "world": sn.world, "device": sn.device,
                               **sn.extra}
    hp["phases"] = list(r.phases)
    return hp
