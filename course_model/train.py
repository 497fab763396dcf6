"""Train the course model with a curriculum, checkpointing and resuming; then export.

    python -m course_model.train                 # full reproduction: corpus, tokenizer, train,
                                                 # export to assets/models/course-llama, eval, card
    python -m course_model.train --run A --no-export   # one training run only (resumable)
    python -m course_model.train --export-from .cache/course_model/runs/A/ckpt.pt

Stage 1 (copy-friendly templates, repeats, facts, instructions) runs until a repeated-token
probe shows induction heads (or STAGE1_MAX steps); stage 2 mixes 70% compositional reading
comprehension with 30% stage 1 under a cosine decay; stage 3 (`course_model.corpus_stage3`)
practises what stage 2 left weak (names, bare answers, lists and other layouts, remapped
demonstrations, chat replies) under a second, shorter cosine. Stage 4 (`corpus_stage4`, the
GPU recipe's `hp["stage4"]`) fine-tunes on more ways of asking for a fact, with its own device,
batch and process count (`train_recipe`).

Two recipes (`RECIPES`): `gpu`, the shipped model (`HP_GPU`, `CONFIG_GPU`: one CUDA GPU,
deterministic kernels, 128-row batches, minutes), and `cpu` (`HP`, `CONFIG`, `PHASES`: a smaller
model on 2 CPU cores in about 75 minutes). `--recipe` picks one; `make model` replays
`SHIPPED_RECIPE`.

Data parallel on the CPU: `HP["world"]` one-thread processes (FACTS.md: two one-thread runs use
2 cores better than one two-thread run) each take every world-th row of the same batch; their
gradients are summed with one all-reduce per step. The loss is normalised by the label count of
the whole batch, so the update is that of one process training on the whole batch, and every
process holds the same weights. Two processes take ~0.17 s a step where one takes ~0.33 s.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shutil
import time

import numpy as np
import torch
import torch.distributed as dist

from course_model import MODEL_DIR, WORK_DIR, data

CONFIG = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=6,
              num_attention_heads=8, num_key_value_heads=8, head_dim=16,
              max_position_embeddings=2048, rope_theta=10000.0, rms_norm_eps=1e-5,
              tie_word_embeddings=True, attention_dropout=0.0)
HP = dict(seed=0, batch=3, lr=3e-3, lr_stage2=2e-3, lr_min=2e-4, warmup=200,
          weight_decay=0.1, stage1_max=9000, stage2_steps=3500, induction_acc=0.6,
          probe_every=250, ckpt_every=400, log_every=50, repeat_frac=0.0,
          stage3_steps=12000, lr_stage3=3e-3, world=2)
# The shipped run's schedule, as (from_step, overrides) applied in order. It was steered by
# hand while training on the shared CPU (FACTS.md): no induction heads after 2,800 steps ->
# add repeated random-token rows; still none at 4,000 -> no weight decay, lr 4e-3, batch 4
# (induction formed ~1,750 steps later); stage-2 length set to fit the time budget.
PHASES = [(2800, dict(repeat_frac=0.67)),
          (4000, dict(batch=4, lr=4e-3, weight_decay=0.0, repeat_frac=0.5)),
          (6000, dict(stage2_steps=4500)),
          # a 700-step polish at the floor of the cosine: half of each batch from stage 1
          # (facts, conflicts, instructions). Without it fact recall fell from 0.96 to 0.87.
          # It must start before stage 2 ends (induction formed at step 5,500 -> stage 2 ends
          # at 10,000); a later entry never applies (train.late_phase_keys warns).
          (10000, dict(stage2_steps=5200, stage1_frac=0.5))]

# The same curriculum on one CUDA GPU (`--recipe gpu`): a wider model, 128-row batches, more
# steps, and each stage's corpus drawn from several generator seeds (`corpus_copies`) so that
# the extra steps see new documents rather than the same ones many times. No hand-steered
# phases: repeated rows and no weight decay from the start, and the polish takes the last
# `polish_steps` of stage 2. About 6 minutes of training on one H100.
CONFIG_GPU = dict(CONFIG, hidden_size=256, intermediate_size=640, head_dim=32)
HP_GPU = dict(HP, batch=128, lr=2e-3, lr_stage2=2e-3, lr_stage3=1.5e-3, lr_min=1e-4,
              warmup=200, weight_decay=0.0, repeat_frac=0.5, stage1_max=700,
              stage2_steps=1400, stage3_steps=1400, polish_steps=300, polish_frac=0.5,
              probe_every=100, ckpt_every=500, log_every=50, world=1, device="cuda",
              corpus_copies={1: 2, 2: 4, 3: 4}, config=CONFIG_GPU)
# Stage 4 (`course_model.corpus_stage4`): a short fine-tune on more ways of asking, after the
# GPU stages. It runs on the CPU (2 one-thread processes, 8-row batches: about 1 s a step), so
# it can be tried and replayed without a GPU. Its settings replace the recipe's for that stage
# only (`train_recipe`).
STAGE4_CPU = dict(stage4_steps=1500, lr_stage4=3e-4, lr_min_stage4=3e-5, warmup_stage4=50,
                  batch=8, world=2, device="cpu", ckpt_every=250)
HP_GPU["stage4"] = STAGE4_CPU
RECIPES = {"cpu": (HP, PHASES), "gpu": (HP_GPU, [])}
SHIPPED_RECIPE = "gpu"   # what `make model` replays


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
                      pad_token_id=tok.pad_token_id, **(config or CONFIG))
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


def lr_at(step: int, stage2_start: int | None, hp: dict,
          stage3_start: int | None = None, stage4_start: int | None = None) -> float:
    if stage2_start is None:   # stage 1: warmup then constant
        return hp["lr"] * min(1.0, (step + 1) / hp["warmup"])
    if stage4_start is not None:   # a short warmup (new batch size, new device), then cosine
        i, warm = step - stage4_start, hp["warmup_stage4"]
        if i < warm:
            return hp["lr_stage4"] * (i + 1) / warm
        return _cosine((i - warm) / (hp["stage4_steps"] - warm), hp["lr_stage4"],
                       hp["lr_min_stage4"])
    if stage3_start is not None:
        return _cosine((step - stage3_start) / hp["stage3_steps"], hp["lr_stage3"], hp["lr_min"])
    return _cosine((step - stage2_start) / hp["stage2_steps"], hp["lr_stage2"], hp["lr_min"])


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


def _worker(rank: int, world: int, port: int, run: str, hp: dict, max_minutes: float,
            work_dir: str, n_docs: dict):
    from pathlib import Path
    global WORK_DIR  # a fresh process: take the parent's working folder and corpus sizes
    WORK_DIR = data.WORK_DIR = Path(work_dir)
    data.N_DOCS = n_docs
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
    data.prepare()  # build corpus and tokenizer once, before the workers load them
    if hp.get("stage4_steps"):
        data.load_stage(4)
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


def train_recipe(run: str, hp: dict, max_minutes: float = 1e9) -> str:
    """Stages 1-3 with hp's settings, then stage 4 (if hp["stage4"]) with its own device, batch
    and process count, resuming from stage 3's last checkpoint; returns the checkpoint path.
    The run's hp.json ends up holding the recipe itself (stage 4's settings nested)."""
    first = {k: v for k, v in hp.items() if k != "stage4"}
    ckpt = WORK_DIR / "runs" / run / "ckpt.pt"

    def stage3_done() -> bool:
        if not ckpt.exists():
            return False
        state = torch.load(ckpt, weights_only=False, map_location="cpu")["state"]
        s3 = state.get("stage3_start")
        return s3 is not None and state["step"] >= s3 + first["stage3_steps"]
    if not (hp.get("stage4") and stage3_done()):
        train_parallel(run, first, max_minutes)
        if not (hp.get("stage4") and stage3_done()):
            return str(ckpt)   # no stage 4, or stopped early: resuming continues stage 3
    train_parallel(run, dict(first, **hp["stage4"]), max_minutes)
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


def _use_device(name: str) -> torch.device:
    """The training device; on CUDA, settings that make a rerun give the same weights."""
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("this recipe trains on a CUDA GPU and none is visible; on a CPU "
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


def train(run: str, hp: dict, max_minutes: float = 1e9, rank: int = 0, world: int = 1) -> str:
    """Train (resuming from the run's checkpoint); returns the checkpoint path. With world > 1
    this is one of `world` processes of `train_parallel`; rank 0 logs and saves."""
    torch.set_num_threads(1)
    device = _use_device(hp.get("device", "cpu"))   # before minutes of corpus building
    tok, meta = data.prepare()
    run_dir = WORK_DIR / "runs" / run
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "ckpt.pt"
    model = make_model(tok, hp["seed"], hp.get("config")).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=hp["lr"], betas=(0.9, 0.95))
    state = {"step": 0, "stage2_start": None, "log": [], "probe": [], "wall_s": 0.0,
             "device": _device_name(device)}
    if ckpt.exists():
        c = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(c["model"])
        if "opt" in c:   # a shipped checkpoint keeps only weights and state (stage 4 resets)
            opt.load_state_dict(c["opt"])
        state = c["state"]
        opt.param_groups[0]["weight_decay"] = hp["weight_decay"]
        if rank == 0:
            print(f"resumed at step {state['step']}", flush=True)
    if rank == 0:
        (run_dir / "hp.json").write_text(json.dumps(hp, indent=1))
    params = list(model.parameters())
    stop = False
    copies = hp.get("corpus_copies", {})
    @functools.cache   # on first use: a resumed stage 4 reads none of the earlier stages' arrays
    def stage_rows(s: int) -> np.ndarray:
        return data.load_stage(s, int(copies.get(s, copies.get(str(s), 1))))
    pad = tok.pad_token_id
    vocab = len(tok)
    t0, wall0 = time.time(), state["wall_s"]
    model.train()
    total = None

    def save(path=ckpt):
        if rank != 0:
            return
        state["wall_s"] = wall0 + time.time() - t0
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state},
                   str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)

    base_hp = hp
    while True:
        step = state["step"]
        s2, s3 = state["stage2_start"], state.get("stage3_start")
        hp = hp_at(base_hp, step)
        for start, over in base_hp.get("phases", []):
            late = late_phase_keys(over, 1 if s2 is None else 2 if s3 is None else 3)
            if start == step and late and rank == 0:
                # PHASES count absolute steps; the stage switch follows the induction probe
                print(f"warning: the phase at step {start} sets {late}, but that stage has "
                      "ended: it has no effect", flush=True)
        opt.param_groups[0]["weight_decay"] = hp["weight_decay"]
        if s2 is not None and s3 is None and step >= s2 + hp["stage2_steps"]:
            if not hp.get("stage3_steps"):
                break
            state["stage3_start"] = s3 = step
            # stage-3 variants start from a copy of this (as runs/<new>/ckpt.pt): 35 minutes
            # instead of a run from scratch
            save(run_dir / "stage3_start.pt")
            if rank == 0:
                print(f"== stage 3 from step {step}", flush=True)
        s4 = state.get("stage4_start")
        if s3 is not None and s4 is None and step >= s3 + hp["stage3_steps"]:
            if not hp.get("stage4_steps"):
                break
            state["stage4_start"] = s4 = step
            opt.state.clear()   # fresh Adam moments: another batch size, data and device
            state["stage4_device"] = _device_name(device)
            save(run_dir / "stage4_start.pt")
            if rank == 0:
                print(f"== stage 4 from step {step}", flush=True)
        if s4 is not None and step >= s4 + hp["stage4_steps"]:
            break
        if stop:
            if rank == 0:
                print("time budget reached", flush=True)
            break
        if s4 is not None:
            rows = batch_rows(stage_rows(4), hp["seed"], 5, step - s4, hp["batch"])
        elif s3 is not None:
            rows = batch_rows(stage_rows(3), hp["seed"], 4, step - s3, hp["batch"])
        elif s2 is None:
            rows = batch_rows(stage_rows(1), hp["seed"], 1, step, hp["batch"])
        else:
            # stage 2 docs already hold the 70/30 mix (course_model.corpus.STAGE2_MIX)
            rows = batch_rows(stage_rows(2), hp["seed"], 2, step - s2, hp["batch"])
        if (s2 is not None and s3 is None and hp.get("polish_steps")
                and step >= s2 + hp["stage2_steps"] - hp["polish_steps"]):
            hp = dict(hp, stage1_frac=hp["polish_frac"])
        if s2 is not None and s3 is None and hp.get("stage1_frac", 0):
            # a late polish: part of each batch from stage 1 (facts, conflicts, instructions)
            k = int(round(hp["stage1_frac"] * len(rows)))
            rows = np.concatenate([rows[k:], batch_rows(stage_rows(1), hp["seed"], 3, step, k)])
        if s2 is None and hp.get("repeat_frac", 0):
            k = int(round(hp["repeat_frac"] * len(rows)))
            rows = np.concatenate([rows[k:], repeat_rows(k, hp["seed"], step, vocab,
                                                         tok.bos_token_id, tok.eos_token_id,
                                                         pad, rows.shape[1])])
        x, labels = data.split_inputs_labels(rows, pad)
        x, labels = x.to(device), labels.to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, s2, hp, s3, s4)
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
            stage = 1 if s2 is None else 2 if s3 is None else 3 if s4 is None else 4
            state["log"].append([step, round(loss.item(), 4), round(el, 1), stage])
            if rank == 0:
                print(f"step {step} stage {stage} loss {loss.item():.3f} "
                      f"lr {opt.param_groups[0]['lr']:.2e} {el / 60:.1f} min", flush=True)
        if step % hp["probe_every"] == 0:
            acc = induction_probe(model, vocab)  # same weights in every process: same value
            state["probe"].append([step, round(acc, 3)])
            force = (run_dir / "force_stage2").exists()  # manual switch (time budget)
            if world > 1:   # rank 0's view of the file decides for all
                flag = torch.tensor([float(force and rank == 0)])
                dist.all_reduce(flag)
                force = flag.item() > 0
            if rank == 0:
                print(f"step {step} induction probe {acc:.2f}", flush=True)
            if s2 is None and (acc >= hp["induction_acc"] or step >= hp["stage1_max"] or force):
                state["stage2_start"] = step
                if rank == 0:
                    print(f"== stage 2 from step {step}", flush=True)
        if step % hp["ckpt_every"] == 0:
            save()
    save()
    return str(ckpt)


def export(ckpt_path, out_dir=MODEL_DIR) -> None:
    """Write config, fp32 safetensors, tokenizer and generation config to out_dir."""
    from transformers import GenerationConfig
    tok, meta = data.prepare()
    c = torch.load(ckpt_path, weights_only=False, map_location="cpu")
    hp = (json.loads((ckpt_path.parent / "hp.json").read_text())
          if (ckpt_path.parent / "hp.json").exists() else HP)
    config = hp.get("config") or CONFIG
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
    if c["state"].get("stage4_start") is not None:
        meta = dict(meta, **data.stage4_meta(tok))
    train_info = {"run": c["state"], "hp": hp, "corpus": meta, "config": config,
                  "parameters": sum(p.numel() for p in model.parameters())}
    (WORK_DIR / "train_info.json").write_text(json.dumps(train_info))
    (out_dir / "train_info.json").write_text(json.dumps(train_info))  # card inputs, shipped
    print(f"exported step {c['state']['step']} to {out_dir}", flush=True)


def main():
    from pathlib import Path
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="A")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default=SHIPPED_RECIPE,
                    help="cpu: 2 CPU cores, ~75 min; gpu: one CUDA GPU, minutes "
                         f"(the shipped model: {SHIPPED_RECIPE})")
    ap.add_argument("--seed", type=int, default=HP["seed"])
    ap.add_argument("--max-minutes", type=float, default=1e9)
    ap.add_argument("--phases", default=None,
                    help='JSON list of [from_step, {overrides}] replacing the shipped schedule')
    ap.add_argument("--hp", default=None, help="JSON dict of hyperparameter overrides")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--export-from", default=None)
    a = ap.parse_args()
    if a.prepare_only:
        print(data.prepare()[1])
        return
    if a.export_from:
        export(Path(a.export_from))
        return
    base, phases = RECIPES[a.recipe]
    hp = dict(base, seed=a.seed, phases=json.loads(a.phases) if a.phases else phases)
    hp.update(json.loads(a.hp) if a.hp else {})
    try:
        _use_device(hp.get("device", "cpu"))
    except RuntimeError as err:   # no GPU for the GPU recipe: say so in one line
        ap.error(str(err))
    ckpt = train_recipe(a.run, hp, a.max_minutes)
    if not a.no_export:
        export(Path(ckpt))
        from course_model import card, evaluate
        evaluate.main([])
        card.write_card()


if __name__ == "__main__":
    main()
