"""Train the course model through the curriculum's stages, checkpointing and resuming; export.

    python -m course_model.train                 # full reproduction: corpus, tokenizer, train,
                                                 # export to assets/models/course-llama, eval, card
    python -m course_model.train --run A --no-export   # one training run only (resumable)
    python -m course_model.train --export-from .cache/course_model/runs/A/ckpt.pt
    python -m course_model.train --recipe gpu-fv --run F --finetune-from assets/models/course-llama
                                 --stage 6       # the next stage on an exported model (CPU)

The stages, their corpora and each recipe's schedule are the table in `course_model.curriculum`
(`recipe_hp` turns a recipe into the flat settings read here and recorded in hp.json). Stage 1
runs until a repeated-token probe shows induction heads (or `stage1_max` steps); stages 2 and 3
run a cosine each; the stages with their own settings (4 to 6: `hp["stage4"]` ...) fine-tune
with their own device, batch and process count (`train_recipe`), or from an exported model
(`finetune`). The loop reads the stages from `curriculum.STAGES` when it runs, so a stage
declared there (with a schedule row in a recipe) is trained.
`make model` replays `SHIPPED_RECIPE`.

Data parallel on the CPU: `hp["world"]` one-thread processes each take every world-th row of
the same batch; their gradients are summed with one all-reduce per step. The loss is
normalised by the label count of the whole batch, so the update is that of one process
training on the whole batch, and every process holds the same weights.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import time

import numpy as np
import torch
import torch.distributed as dist

from course_model import MODEL_DIR, WORK_DIR, data
from course_model.curriculum import (CONFIG_CPU, POLISH_STREAM, RECIPES, SHIPPED_RECIPE, STAGES,
                                     Stage, own_stages, recipe_hp, stage_order)


def hp_at(hp: dict, step: int) -> dict:
    """Hyperparameters in force at `step` (base hp plus every phase that has started)."""
    out = dict(hp)
    for start, over in hp.get("phases", []):
        if step >= start:
            out.update(over)
    return out


# settings read only while a stage runs (train below): a phase that sets them after that stage
# has ended changes nothing
STAGE_KEYS = {1: {"repeat_frac", "stage1_max", "induction_acc"},
              2: {"stage2_steps", "stage1_frac", "lr_stage2"}}


def late_phase_keys(over: dict, stage: int) -> list[str]:
    """Keys of a phase starting in `stage` (1-3) that belong to a stage already over."""
    return sorted(k for st, keys in STAGE_KEYS.items() if st < stage for k in keys & set(over))


def make_model(tok, seed: int, config: dict | None = None):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                      eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<|eot_id|>")],
                      pad_token_id=tok.pad_token_id, **(config or CONFIG_CPU))
    cfg._attn_implementation = "sdpa"  # training speed; users load with eager
    return LlamaForCausalLM(cfg)


@torch.no_grad()
def induction_probe(model, vocab: int, n: int = 32, length: int = 30) -> float:
    """Accuracy on the second copy of random token runs: [n, 1 + 2*length] inputs."""
    g = torch.Generator().manual_seed(1234)
    run = torch.randint(6, vocab, (n, length), generator=g)
    x = torch.cat([torch.zeros(n, 1, dtype=torch.long), run, run], 1).to(model.device)
    run = run.to(model.device)
    model.eval()
    pred = model(x).logits[:, length:-1].argmax(-1)
    model.train()
    return (pred == run).float().mean().item()


def lr_at(step: int, hp: dict, starts: dict[int, int | None]) -> float:
    """The learning rate at `step`, given each stage's first step (`starts[n]`, None or absent
    while stage n has not begun): that of the latest stage that has begun."""
    n = max((k for k, start in starts.items() if k > 1 and start is not None), default=1)
    if n == 1:   # stage 1: warmup then constant
        return hp["lr"] * min(1.0, (step + 1) / hp["warmup"])
    if STAGES[n].own_settings:   # a short warmup (new batch size, new device), then cosine
        i, warm = step - starts[n], hp[f"warmup_stage{n}"]
        if i < warm:
            return hp[f"lr_stage{n}"] * (i + 1) / warm
        return _cosine((i - warm) / (hp[f"stage{n}_steps"] - warm), hp[f"lr_stage{n}"],
                       hp[f"lr_min_stage{n}"])
    return _cosine((step - starts[n]) / hp[f"stage{n}_steps"], hp[f"lr_stage{n}"], hp["lr_min"])


def _cosine(t: float, top: float, bottom: float) -> float:
    """Cosine decay from top (t = 0) to bottom (t >= 1)."""
    return bottom + 0.5 * (top - bottom) * (1 + math.cos(math.pi * min(1.0, t)))


def batch_rows(arr: np.ndarray, seed: int, stage: int, i: int, batch: int) -> np.ndarray:
    """The i-th batch of a stage: epoch-wise seeded permutations, so resuming is exact."""
    n = arr.shape[0]
    per_epoch = n // batch
    epoch, j = divmod(i, per_epoch)
    return arr[_permutation(n, seed, stage, epoch)[j * batch:(j + 1) * batch]]


@functools.lru_cache(maxsize=8)
def _permutation(n: int, seed: int, stage: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, stage, epoch]).permutation(n)


def repeat_rows(n: int, seed: int, step: int, vocab: int, bos: int, eos: int,
                pad: int, seq_len: int) -> np.ndarray:
    """[n, seq_len] rows of random token runs, each repeated 2-4 times (BOS run run .. EOS):
    extra copy signal so induction heads form sooner (stage 1, hp["repeat_frac"] of a batch)."""
    g = np.random.default_rng([seed, 99, step])
    rows = np.full((n, seq_len), pad, dtype=np.int64)
    for r in range(n):
        pos = 0
        while True:
            run = g.integers(6, vocab, g.integers(8, 61))
            doc = np.concatenate([[bos], np.tile(run, g.integers(2, 5)), [eos]])
            if pos + len(doc) > seq_len:
                break
            rows[r, pos:pos + len(doc)] = doc
            pos += len(doc)
    return rows


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exit_with_parent(every_s: float = 5.0) -> None:
    """Stop this worker when the process that spawned it is gone (stopping a run stops it all:
    without this, killing the parent left the workers training to the end of the stage)."""
    import threading
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)   # the last checkpoint stays; resuming continues from it
    threading.Thread(target=watch, daemon=True).start()


def _worker(rank: int, world: int, port: int, run: str, hp: dict, max_minutes: float,
            work_dir: str, n_docs: dict):
    from pathlib import Path
    global WORK_DIR  # a fresh process: take the parent's working folder and corpus sizes
    WORK_DIR = data.WORK_DIR = Path(work_dir)
    data.N_DOCS = n_docs
    _exit_with_parent()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                            rank=rank, world_size=world)
    try:
        train(run, hp, max_minutes, rank=rank, world=world)
    finally:
        dist.destroy_process_group()


def train_parallel(run: str, hp: dict, max_minutes: float = 1e9) -> str:
    """`train` in hp["world"] processes (one if world is 1); returns the checkpoint path."""
    world = hp.get("world", 1)
    if world == 1:
        return train(run, hp, max_minutes)
    import torch.multiprocessing as mp
    _use_device(hp.get("device", "cpu"))   # a missing GPU is said here, not in each worker
    _tokenizer_from(hp)
    data.prepare()  # build corpora and tokenizer once, before the workers load them
    for attempt in (1, 2):
        try:
            mp.spawn(_worker, args=(world, _free_port(), run, hp, max_minutes, str(WORK_DIR),
                                    data.N_DOCS), nprocs=world, join=True)
            break
        except mp.ProcessExitedException as e:
            # a worker killed by a signal (seen once on a loaded machine); training resumes
            # exactly from the last checkpoint, so one retry costs at most ckpt_every steps
            if attempt == 2:
                raise
            print(f"warning: {e}; resuming from the last checkpoint", flush=True)
    return str(WORK_DIR / "runs" / run / "ckpt.pt")


def _tokenizer_from(hp: dict) -> None:
    """A fine-tune of an exported model keeps that model's tokenizer (hp["finetune_from"])."""
    if hp.get("finetune_from"):
        from course_model import REPO
        data.TOKENIZER_FROM = REPO / hp["finetune_from"]


def _check_finetune(run_state: dict, model_dir, stage: int, resuming: bool) -> None:
    """Refuse a fine-tune that would train nothing or skip a stage: `stage` must have its own
    settings, follow the last stage the exported model trained, and not be done already."""
    if stage not in STAGES or not STAGES[stage].own_settings:
        raise ValueError(f"stage {stage} cannot be fine-tuned on its own; the stages that can "
                         f"are {own_stages()}")
    order = stage_order()
    before = order[order.index(stage) - 1]
    if before > 1 and run_state.get(f"stage{before}_start") is None:
        raise ValueError(f"{model_dir} has not trained stage {before}: fine-tune that first")
    if run_state.get(f"stage{stage}_start") is not None and not resuming:
        # resuming from the model's state would find the stage over and train nothing
        raise ValueError(f"{model_dir} has trained stage {stage} already (from step "
                         f"{run_state[f'stage{stage}_start']}): fine-tune the next stage, or "
                         f"start a stage-{stage} variant from a copy of a run's "
                         f"stage{stage}_start.pt (CONTRIBUTING.md, the course model in detail)")


def finetune(run: str, model_dir, stage: int, max_minutes: float = 1e9,
             settings: dict | None = None) -> str:
    """Train stage `stage` (its settings from the shipped recipe, or `settings`) on top of an
    exported model (weights, tokenizer and run state from its folder: stage 6 on the CPU from
    the shipped model); returns the checkpoint path. Resumes if the run's checkpoint exists."""
    from pathlib import Path
    from safetensors.torch import load_file
    from course_model import REPO
    model_dir = Path(model_dir).resolve()
    info = json.loads((model_dir / "train_info.json").read_text())
    _check_finetune(info["run"], model_dir, stage, (WORK_DIR / "runs" / run / "ckpt.pt").exists())
    own = settings or recipe_hp(SHIPPED_RECIPE)[f"stage{stage}"]
    where = (model_dir.relative_to(REPO) if model_dir.is_relative_to(REPO) else model_dir)
    base = dict(info["hp"], **{f"stage{stage}": own}, finetune_from=str(where))
    flat = {k: v for k, v in base.items() if not (k.startswith("stage") and isinstance(v, dict))}
    for n in own_stages():   # earlier own-settings stages' lengths, then this one's
        if n <= stage:
            flat.update(base[f"stage{n}"])
    run_dir = WORK_DIR / "runs" / run
    ckpt = run_dir / "ckpt.pt"
    if not ckpt.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        weights = load_file(str(model_dir / "model.safetensors"))
        weights.setdefault("lm_head.weight", weights["model.embed_tokens.weight"])  # tied
        torch.save({"model": weights, "state": info["run"]}, ckpt)
    train_parallel(run, flat, max_minutes)
    (run_dir / "hp.json").write_text(json.dumps(base, indent=1))
    return str(ckpt)


def hp_stages(hp: dict) -> list[int]:
    """The stages a run's settings schedule: stage 1, each shared-settings stage n with
    "stage{n}_steps", each own-settings stage with its nested hp["stage{n}"]; in order."""
    return [n for n in stage_order()
            if n == 1 or (hp.get(f"stage{n}") if STAGES[n].own_settings
                          else hp.get(f"stage{n}_steps"))]


def train_recipe(run: str, hp: dict, max_minutes: float = 1e9) -> str:
    """The shared-settings stages (1-3) with hp's settings, then each stage with its own
    settings (hp["stage4"], hp["stage5"]: device, batch and process count), resuming from the
    last checkpoint; returns the checkpoint path. The run's hp.json ends up holding the recipe
    itself (nested). Raises if a scheduled stage was not reached (the stages run in order)."""
    own = {f"stage{n}" for n in own_stages()}
    first = {k: v for k, v in hp.items() if k not in own}
    ckpt = WORK_DIR / "runs" / run / "ckpt.pt"

    def state() -> dict:
        return torch.load(ckpt, weights_only=False, map_location="cpu")["state"]

    def done(n: int, settings: dict) -> bool:
        if not ckpt.exists():
            return False
        now = state()
        start = stage_start(STAGES[n], now)
        return start is not None and n > 1 and now["step"] >= start + settings[f"stage{n}_steps"]
    scheduled = hp_stages(hp)
    order = stage_order()
    if scheduled != order[:len(scheduled)]:
        raise ValueError(f"the settings schedule stages {scheduled}, but training runs the "
                         f"stages {order} in order: schedule every stage before the last one")
    shared = [n for n in scheduled if not STAGES[n].own_settings]
    settings, last = first, shared[-1]
    for n in scheduled[len(shared):]:
        if not done(last, settings):
            train_parallel(run, settings, max_minutes)
            if not done(last, settings):
                return str(ckpt)   # stopped early: resuming continues this stage
        settings, last = dict(settings, **hp[f"stage{n}"]), n
    train_parallel(run, settings, max_minutes)
    if done(last, settings):
        missed = [n for n in scheduled if stage_start(STAGES[n], state()) is None]
        if missed:
            raise RuntimeError(f"run {run}: stages {missed} are scheduled but training never "
                               "began them (stages run in order: is one before them unscheduled?)")
    (ckpt.parent / "hp.json").write_text(json.dumps(hp, indent=1))
    return str(ckpt)


def batch_loss(model, x: torch.Tensor, labels: torch.Tensor, rank: int = 0,
               world: int = 1) -> torch.Tensor:
    """Loss on this process's rows (every world-th of x, labels: [batch, seq]), divided by the
    target count of the whole batch, so the processes' losses (and gradients) sum to the mean
    loss of the whole batch."""
    if world == 1:
        return model(input_ids=x, labels=labels).loss
    n_targets = int((labels[:, 1:] != -100).sum())   # the loss shifts labels by one
    return model(input_ids=x[rank::world], labels=labels[rank::world],
                 num_items_in_batch=n_targets).loss


def _all_reduce_grads(params: list, extra: torch.Tensor) -> torch.Tensor:
    """Sum every parameter's gradient over the processes, in place, in one message; returns
    `extra` (a few scalars sent along: loss, flags) summed too."""
    flat = torch.cat([p.grad.reshape(-1) for p in params] + [extra])
    dist.all_reduce(flat)
    i = 0
    for p in params:
        p.grad.copy_(flat[i:i + p.numel()].view_as(p.grad))
        i += p.numel()
    return flat[i:]


class NoGpuError(RuntimeError):
    """The settings train on a CUDA GPU and none is visible."""


def _use_device(name: str) -> torch.device:
    """The training device; on CUDA, settings that make a rerun give the same weights."""
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise NoGpuError("this recipe trains on a CUDA GPU and none is visible; on a CPU "
                         "use `make model RECIPE=cpu` (`--recipe cpu`: a smaller model, "
                         "about 75 minutes on 2 cores)")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    # math attention: the fused kernels' backward passes are not deterministic
    torch.backends.cuda.enable_flash_sdp(False)
    torch.backends.cuda.enable_mem_efficient_sdp(False)
    torch.backends.cuda.enable_cudnn_sdp(False)
    torch.backends.cuda.matmul.allow_tf32 = True   # tensor cores; still deterministic
    return torch.device(name)


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def train_stages() -> list[Stage]:
    """The curriculum's stages in training order (`curriculum.STAGES`, checked), read when a
    run starts: the number of each gives the corpus it reads, `hp["stage{n}_steps"]` its length
    and `state["stage{n}_start"]` its first step; its stream and settings flag are declared
    there."""
    return [STAGES[n] for n in stage_order()]


def stage_start(stage: Stage, state: dict) -> int | None:
    """The stage's first step, or None while it has not begun."""
    return 0 if stage.number == 1 else state.get(f"stage{stage.number}_start")


def stage_length(stage: Stage, hp: dict) -> int | None:
    """The stage's steps under hp (None: stage 1 ends on the probe, or hp lacks the stage)."""
    return None if stage.number == 1 else hp.get(f"stage{stage.number}_steps")


def current_stage(state: dict) -> Stage:
    return [s for s in train_stages() if stage_start(s, state) is not None][-1]


def stage_over(stage: Stage, state: dict, hp: dict) -> bool:
    """Stage 1 is over once the induction probe has started stage 2 (`train`); a later stage
    once its steps (in force now: a phase may change them) are done."""
    if stage.number == 1:
        return state["stage2_start"] is not None
    return state["step"] >= stage_start(stage, state) + stage_length(stage, hp)


def _optimizer(model, hp: dict):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=hp["lr"], betas=(0.9, 0.95))


def _warn_late_phases(hp: dict, step: int, stage: int) -> None:
    for start, over in hp.get("phases", []):
        late = late_phase_keys(over, stage)
        if start == step and late:
            # phases count absolute steps; the stage switch follows the induction probe
            print(f"warning: the phase at step {start} sets {late}, but that stage has "
                  "ended: it has no effect", flush=True)


def _batch(stage: Stage, state: dict, hp: dict, stage_rows, tok, vocab: int) -> np.ndarray:
    """This step's rows [batch, seq]: the stage's stream, plus stage 1's rows in a late
    stage-2 polish and repeated random-token rows in stage 1."""
    step = state["step"]
    rows = batch_rows(stage_rows(stage.number), hp["seed"], stage.stream,
                      step - stage_start(stage, state), hp["batch"])
    if stage.number == 2:
        polish_from = state["stage2_start"] + hp["stage2_steps"] - hp.get("polish_steps", 0)
        if hp.get("polish_steps") and step >= polish_from:
            hp = dict(hp, stage1_frac=hp["polish_frac"])
        if hp.get("stage1_frac", 0):
            k = int(round(hp["stage1_frac"] * len(rows)))
            rows = np.concatenate([rows[k:], batch_rows(stage_rows(1), hp["seed"],
                                                        POLISH_STREAM, step, k)])
    if stage.number == 1 and hp.get("repeat_frac", 0):
        k = int(round(hp["repeat_frac"] * len(rows)))
        rows = np.concatenate([rows[k:], repeat_rows(k, hp["seed"], step, vocab,
                                                     tok.bos_token_id, tok.eos_token_id,
                                                     tok.pad_token_id, rows.shape[1])])
    return rows


def _probe_says_stage2(model, state, hp, run_dir, vocab, rank, world) -> bool:
    """Log the induction probe; True when stage 1 should end (probe, step limit or a
    `force_stage2` file in the run folder, rank 0's view deciding for all)."""
    step = state["step"]
    acc = induction_probe(model, vocab)  # same weights in every process: same value
    state["probe"].append([step, round(acc, 3)])
    force = (run_dir / "force_stage2").exists()
    if world > 1:
        flag = torch.tensor([float(force and rank == 0)])
        dist.all_reduce(flag)
        force = flag.item() > 0
    if rank == 0:
        print(f"step {step} induction probe {acc:.2f}", flush=True)
    return acc >= hp["induction_acc"] or step >= hp["stage1_max"] or force


def train(run: str, hp: dict, max_minutes: float = 1e9, rank: int = 0, world: int = 1) -> str:
    """Train (resuming from the run's checkpoint); returns the checkpoint path. With world > 1
    this is one of `world` processes of `train_parallel`; rank 0 logs and saves."""
    torch.set_num_threads(1)
    device = _use_device(hp.get("device", "cpu"))   # before minutes of corpus building
    _tokenizer_from(hp)
    tok, meta = data.prepare()
    run_dir = WORK_DIR / "runs" / run
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "ckpt.pt"
    model = make_model(tok, hp["seed"], hp.get("config")).to(device)
    opt = _optimizer(model, hp)
    state = {"step": 0, "stage2_start": None, "log": [], "probe": [], "wall_s": 0.0,
             "device": _device_name(device)}
    if ckpt.exists():
        c = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(c["model"])
        if "opt" in c:   # a shipped checkpoint keeps only weights and state (stage 4 resets)
            opt.load_state_dict(c["opt"])
        state = c["state"]
        if rank == 0:
            print(f"resumed at step {state['step']}", flush=True)
    if rank == 0:
        (run_dir / "hp.json").write_text(json.dumps(hp, indent=1))
    params = list(model.parameters())
    copies = hp.get("corpus_copies", {})
    vocab = len(tok)

    @functools.cache   # on first use: a resumed stage 4 reads none of the earlier stages' arrays
    def stage_rows(s: int) -> np.ndarray:
        return data.load_stage(s, int(copies.get(s, copies.get(str(s), 1))))
    t0, wall0 = time.time(), state["wall_s"]
    model.train()

    def save(path=ckpt):
        if rank != 0:
            return
        state["wall_s"] = wall0 + time.time() - t0
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state},
                   str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)

    base_hp = hp

    def run_step(stage: Stage) -> bool:
        """One optimizer step of `stage`; True when the time budget is spent."""
        step = state["step"]
        hp = hp_at(base_hp, step)
        if rank == 0:
            _warn_late_phases(base_hp, step, stage.number)
        opt.param_groups[0]["weight_decay"] = hp["weight_decay"]
        x, labels = data.split_inputs_labels(_batch(stage, state, hp, stage_rows, tok, vocab),
                                             tok.pad_token_id)
        x, labels = x.to(device), labels.to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, hp, {s.number: stage_start(s, state) for s in stages})
        opt.zero_grad(set_to_none=True)
        over_time = (time.time() - t0) / 60 > max_minutes
        loss = batch_loss(model, x, labels, rank, world)
        loss.backward()
        if world == 1:
            stop = over_time
        else:
            extra = torch.tensor([loss.item(), float(over_time and rank == 0)], device=device)
            loss, flag = _all_reduce_grads(params, extra)
            stop = flag.item() > 0
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        state["step"] = step = step + 1
        if step % hp["log_every"] == 0:
            el = wall0 + time.time() - t0
            state["log"].append([step, round(loss.item(), 4), round(el, 1), stage.number])
            if rank == 0:
                print(f"step {step} stage {stage.number} loss {loss.item():.3f} "
                      f"lr {opt.param_groups[0]['lr']:.2e} {el / 60:.1f} min", flush=True)
        if step % hp["probe_every"] == 0:
            if _probe_says_stage2(model, state, hp, run_dir, vocab, rank, world) \
                    and stage.number == 1:
                state["stage2_start"] = step
                if rank == 0:
                    print(f"== stage 2 from step {step}", flush=True)
        if step % hp["ckpt_every"] == 0:
            save()
        return stop

    stop = False
    stages = train_stages()
    for stage in stages[stages.index(current_stage(state)):]:
        if stage_start(stage, state) is None:   # the stage begins here, if the settings hold it
            if stop or not stage_length(stage, hp_at(base_hp, state["step"])):
                break
            state[f"stage{stage.number}_start"] = state["step"]
            if stage.own_settings:
                opt.state.clear()   # fresh Adam moments: another batch size, data and device
                state[f"stage{stage.number}_device"] = _device_name(device)
            # variants of this stage start from a copy of this (as runs/<new>/ckpt.pt)
            save(run_dir / f"stage{stage.number}_start.pt")
            if rank == 0:
                print(f"== stage {stage.number} from step {state['step']}", flush=True)
        while not stop and not stage_over(stage, state, hp_at(base_hp, state["step"])):
            stop = run_step(stage)
    if stop and rank == 0:
        print("time budget reached", flush=True)
    save()
    return str(ckpt)


def export(ckpt_path, out_dir=MODEL_DIR) -> None:
    """Write config, fp32 safetensors, tokenizer and generation config to out_dir."""
    from transformers import GenerationConfig
    c = torch.load(ckpt_path, weights_only=False, map_location="cpu")
    hp = (json.loads((ckpt_path.parent / "hp.json").read_text())
          if (ckpt_path.parent / "hp.json").exists() else recipe_hp("cpu"))
    _tokenizer_from(hp)
    tok, meta = data.prepare()
    config = hp.get("config") or CONFIG_CPU
    model = make_model(tok, 0, config)
    model.load_state_dict(c["model"])
    out_dir.mkdir(parents=True, exist_ok=True)
    model.config._attn_implementation = "eager"
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.model_input_names = ["input_ids", "attention_mask"]  # no token_type_ids (generate)
    tok.save_pretrained(out_dir, save_jinja_files=False)  # chat_template in tokenizer_config
    (out_dir / "chat_template.jinja").unlink(missing_ok=True)
    tc = json.loads((out_dir / "tokenizer_config.json").read_text())
    tc.update(add_bos_token=True, add_eos_token=False,  # documents what the post-processor does
              model_input_names=["input_ids", "attention_mask"])  # generate(**enc) works
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tc, indent=2, ensure_ascii=False))
    GenerationConfig(bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id,
                     eos_token_id=model.config.eos_token_id, do_sample=False,
                     max_new_tokens=64).save_pretrained(out_dir)
    ran = {s.number for s in train_stages() if stage_start(s, c["state"]) is not None}
    meta = {k: v for k, v in meta.items() if _meta_stage(k) in ran | {None}}
    train_info = {"run": c["state"], "hp": hp, "corpus": meta, "config": config,
                  "parameters": sum(p.numel() for p in model.parameters())}
    (WORK_DIR / "train_info.json").write_text(json.dumps(train_info))
    (out_dir / "train_info.json").write_text(json.dumps(train_info))  # card inputs, shipped
    print(f"exported step {c['state']['step']} to {out_dir}", flush=True)


def _meta_stage(key: str) -> int | None:
    """The stage a corpus record belongs to ("stage12_docs" -> 12), None for a run-wide one."""
    head = key.split("_")[0]
    return int(head[5:]) if head.startswith("stage") and head[5:].isdigit() else None


def main():
    from pathlib import Path
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="A")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default=SHIPPED_RECIPE,
                    help="cpu: 2 CPU cores, ~75 min; gpu: one CUDA GPU, minutes "
                         f"(the shipped model: {SHIPPED_RECIPE})")
    ap.add_argument("--seed", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--max-minutes", type=float, default=1e9)
    ap.add_argument("--phases", default=None,
                    help='JSON list of [from_step, {overrides}] replacing the shipped schedule')
    ap.add_argument("--hp", default=None, help="JSON dict of hyperparameter overrides")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--export-from", default=None)
    ap.add_argument("--finetune-from", default=None,
                    help="an exported model folder: train the recipe's next stage on it")
    ap.add_argument("--stage", type=int, default=None,
                    help="with --finetune-from: the stage to train (one the model has not)")
    ap.add_argument("--out", default=None, help="export folder (default: the shipped one)")
    a = ap.parse_args()
    if a.prepare_only:
        print(data.prepare()[1])
        return
    out = Path(a.out) if a.out else MODEL_DIR
    if a.finetune_from:
        settings = recipe_hp(a.recipe).get(f"stage{a.stage}")
        if a.stage is None or settings is None:
            ap.error(f"--finetune-from trains one stage of the recipe: name it with --stage "
                     f"(recipe {a.recipe} schedules stages {sorted(RECIPES[a.recipe].stages)}; "
                     "add --recipe for another)")
        try:
            ckpt = finetune(a.run, a.finetune_from, a.stage, a.max_minutes, settings)
        except ValueError as err:   # a stage done already or one skipped: say so in one line
            ap.error(str(err))
        if not a.no_export:
            export(Path(ckpt), out)
        return
    if a.export_from:
        export(Path(a.export_from), out)
        return
    hp = recipe_hp(a.recipe)
    if a.seed is not None:
        hp["seed"] = a.seed
    if a.phases:
        hp["phases"] = json.loads(a.phases)
    hp.update(json.loads(a.hp) if a.hp else {})
    try:   # each stage checks its device before its corpus is built; a run resumed after the
        # GPU stages (a copy of stage4_start.pt) trains on the CPU alone
        ckpt = train_recipe(a.run, hp, a.max_minutes)
    except NoGpuError as err:   # no GPU for the GPU recipe: say so in one line
        ap.error(str(err))
    if not a.no_export:
        export(Path(ckpt))
        from course_model import card, evaluate
        evaluate.main([])
        card.write_card()


if __name__ == "__main__":
    main()
