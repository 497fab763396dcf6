"""`make model` in miniature: corpus -> tokenizer -> three curriculum stages -> export, and a
resumed run ends with exactly the weights of an uninterrupted one."""
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from course_model import curriculum, data, train  # noqa: E402

CPU_HP = curriculum.recipe_hp("cpu")
TINY_HP = dict(CPU_HP, stage1_max=4, probe_every=2, ckpt_every=2, log_every=1,
               stage2_steps=3, stage3_steps=3, warmup=2, phases=[(3, dict(batch=2))])
TINY_CONFIG = dict(curriculum.CONFIG_CPU, hidden_size=32, intermediate_size=48, head_dim=4)


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("course_model")
    mp = pytest.MonkeyPatch()
    mp.setattr(data, "WORK_DIR", work)
    mp.setattr(train, "WORK_DIR", work)
    mp.setattr(data, "N_DOCS", {n: 300 for n in data.N_DOCS})
    data.prepare()
    yield work
    mp.undo()


def _weights(path):
    return torch.load(path, weights_only=False)["model"]


def _batches_drawn(monkeypatch) -> list:
    """A list that fills with (stream, index, batch) of every batch train draws from now on."""
    calls = []
    real = train.batch_rows

    def spy(arr, seed, stream, i, batch):
        calls.append((stream, i, batch))
        return real(arr, seed, stream, i, batch)
    monkeypatch.setattr(train, "batch_rows", spy)
    return calls


def test_three_stages_and_export(tiny_workdir, tmp_path):
    ckpt = train.train("full", dict(TINY_HP))
    state = torch.load(ckpt, weights_only=False)["state"]
    assert state["stage2_start"] == 4            # stage1_max reached at the first probe after it
    assert state["stage3_start"] == 4 + 3
    assert state["step"] == 4 + 3 + 3
    assert [row[3] for row in state["log"]][-1] == 3
    from pathlib import Path
    train.export(Path(ckpt), tmp_path / "model")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    tok = AutoTokenizer.from_pretrained(tmp_path / "model")
    ids = tok("Q: What is the capital of France? A:", return_tensors="pt")["input_ids"]
    assert ids[0, 0].item() == tok.bos_token_id
    assert torch.isfinite(model(ids).logits).all()


def test_stage3_variant_from_saved_start_matches_full_run(tiny_workdir):
    full = _weights(train.train("whole", dict(TINY_HP)))
    start = tiny_workdir / "runs" / "whole" / "stage3_start.pt"
    assert torch.load(start, weights_only=False)["state"]["step"] == 4 + 3
    (tiny_workdir / "runs" / "variant").mkdir(parents=True)
    (tiny_workdir / "runs" / "variant" / "ckpt.pt").write_bytes(start.read_bytes())
    variant = _weights(train.train("variant", dict(TINY_HP)))
    for name in full:
        assert torch.equal(full[name], variant[name]), name


def test_resume_is_exact(tiny_workdir):
    full = _weights(train.train("straight", dict(TINY_HP)))
    short = dict(TINY_HP, stage3_steps=1)   # stops early, as an interrupted run would
    train.train("resumed", short)
    resumed = _weights(train.train("resumed", dict(TINY_HP)))
    for name in full:
        assert torch.equal(full[name], resumed[name]), name


def test_stage3_learning_rate_restarts_and_decays():
    hp = dict(CPU_HP)
    top = train.lr_at(100, hp, {2: 0, 3: 100})
    end = train.lr_at(100 + hp["stage3_steps"], hp, {2: 0, 3: 100})
    assert top == pytest.approx(hp["lr_stage3"])
    assert end == pytest.approx(hp["lr_min"])


def test_two_processes_train_like_one(tiny_workdir):
    """Data parallel (two processes, half the rows each, gradients summed) trains like one
    process on the whole batch, up to float rounding, and repeats exactly."""
    hp = dict(TINY_HP, phases=[])            # batch 3: the processes get 2 and 1 rows
    one = torch.load(train.train("one", dict(hp, world=1)), weights_only=False)
    two = torch.load(train.train_parallel("two", dict(hp, world=2)), weights_only=False)
    again = _weights(train.train_parallel("two_again", dict(hp, world=2)))
    assert [r[:2] for r in one["state"]["log"]] == [r[:2] for r in two["state"]["log"]]
    init = train.make_model(data.prepare()[0], hp["seed"]).state_dict()

    def dist(a, b):
        return sum(((a[n] - b[n]) ** 2).sum() for n in init) ** 0.5
    # Adam turns rounding in near-zero gradients into full-size steps, so compare globally
    assert dist(one["model"], two["model"]) < 1e-3 * dist(one["model"], init)
    for name in again:
        assert torch.equal(two["model"][name], again[name]), name


def test_batch_loss_shares_sum_to_the_mean():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=2))
    x = torch.randint(0, 50, (3, 12))
    labels = x.clone()
    labels[0, 8:] = -100                     # padding: rows hold different target counts
    labels[2, 3:] = -100
    whole = train.batch_loss(model, x, labels)
    shares = [train.batch_loss(model, x, labels, rank, 2) for rank in range(2)]
    assert torch.allclose(sum(shares), whole, atol=1e-6)


def test_model_card_is_rebuilt_from_the_shipped_files(tmp_path):
    """The card comes from the model folder's train_info.json and eval.json alone (a scratch
    export into the working folder must not leak into it), and the committed card is current."""
    import shutil

    from course_model import MODEL_DIR, card
    for name in ("train_info.json", "eval.json"):
        shutil.copy(MODEL_DIR / name, tmp_path / name)
    card.write_card(tmp_path)
    assert (tmp_path / "README.md").read_text() == (MODEL_DIR / "README.md").read_text()
    assert (tmp_path / "loss_curve.png").stat().st_size > 10_000


def test_a_phase_after_its_stage_is_flagged():
    polish = dict(stage2_steps=5200, stage1_frac=0.5)
    assert train.late_phase_keys(polish, stage=2) == []
    assert train.late_phase_keys(polish, stage=3) == ["stage1_frac", "stage2_steps"]
    assert train.late_phase_keys(dict(repeat_frac=0.5, batch=4), stage=2) == ["repeat_frac"]
    assert train.late_phase_keys(dict(batch=4, lr=4e-3), stage=3) == []


def test_gpu_recipe_without_cuda_says_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="--recipe cpu"):
        train._use_device("cuda")
    assert curriculum.recipe_hp(curriculum.SHIPPED_RECIPE)["device"] == "cuda"   # what is shipped


def test_the_command_line_says_in_one_line_that_a_gpu_is_missing(monkeypatch, tmp_path, capsys):
    """`python -m course_model.train` without a GPU: a usage error naming the CPU recipe, before
    any corpus is built."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(train, "WORK_DIR", tmp_path)
    monkeypatch.setattr(data, "WORK_DIR", tmp_path)
    monkeypatch.setattr("sys.argv", ["train", "--run", "nogpu", "--no-export"])
    with pytest.raises(SystemExit) as stop:
        train.main()
    assert stop.value.code == 2
    assert "--recipe cpu" in capsys.readouterr().err
    assert not list(tmp_path.glob("stage*"))   # no corpus built


def test_corpus_copies_add_new_documents_deterministically(tiny_workdir):
    one = data.load_stage(3)
    two = data.load_stage(3, copies=2)
    assert (two[:len(one)] == one).all()              # the shipped corpus comes first
    extra = two[len(one):]
    assert len(extra) > 0
    assert not {r.tobytes() for r in extra} & {r.tobytes() for r in one}   # new documents
    for f in tiny_workdir.glob("stage3_seed1_*.npy"):
        f.unlink()                                    # rebuilt from the generator: same rows
    assert (data.load_stage(3, copies=2) == two).all()


def test_gpu_style_settings_train_and_export_on_cpu(tiny_workdir, tmp_path, monkeypatch):
    """The GPU recipe's own settings (a model config in hp, corpus copies, a polish over the
    last steps of stage 2) work on any device; export builds the model from hp's config."""
    hp = dict(TINY_HP, phases=[], config=TINY_CONFIG, polish_steps=2, polish_frac=0.5,
              corpus_copies={"3": 2})
    calls = _batches_drawn(monkeypatch)
    ckpt = train.train("gpu_style", hp)
    # stage 2 runs steps 4-6; its last two steps also draw stage-1 rows (stream 3)
    assert [i for stream, i, _ in calls if stream == 3] == [5, 6]
    from pathlib import Path
    train.export(Path(ckpt), tmp_path / "model")
    from transformers import AutoConfig
    assert AutoConfig.from_pretrained(tmp_path / "model").hidden_size == 32


TINY_STAGE4 = dict(stage4_steps=3, lr_stage4=1e-3, lr_min_stage4=1e-4, warmup_stage4=1, batch=2,
                   world=1, device="cpu")


def test_stage4_follows_stage3_with_its_own_settings(tiny_workdir, monkeypatch):
    """`train_recipe` runs stages 1-3, then stage 4 from its own corpus with its own batch;
    starting stage 4 from weights alone (a shipped checkpoint has no optimizer state) gives
    the same weights, since stage 4 starts with fresh optimizer moments anyway."""
    hp = dict(TINY_HP, phases=[], stage4=TINY_STAGE4)
    calls = _batches_drawn(monkeypatch)
    ckpt = train.train_recipe("with4", hp)
    state = torch.load(ckpt, weights_only=False)["state"]
    assert state["stage4_start"] == 4 + 3 + 3 and state["step"] == 4 + 3 + 3 + 3
    assert state["stage4_device"] == "CPU" and state["log"][-1][3] == 4
    assert [c for c in calls if c[0] == 5] == [(5, 0, 2), (5, 1, 2), (5, 2, 2)]  # stage-4 stream
    start = torch.load(tiny_workdir / "runs" / "with4" / "stage4_start.pt", weights_only=False)
    (tiny_workdir / "runs" / "weights_only").mkdir(parents=True)
    torch.save({"model": start["model"], "state": dict(start["state"], stage4_start=None)},
               tiny_workdir / "runs" / "weights_only" / "ckpt.pt")
    again = _weights(train.train_recipe("weights_only", hp))
    for name, w in _weights(ckpt).items():
        assert torch.equal(w, again[name]), name


TINY_STAGE5 = dict(stage5_steps=2, lr_stage5=1e-3, lr_min_stage5=1e-4, warmup_stage5=1, batch=2,
                   world=1, device="cpu")


def test_stage5_from_an_exported_model_replays_the_recipe(tiny_workdir, tmp_path, monkeypatch):
    """Stage 5 after stage 4 in `train_recipe` gives the same weights as a fine-tune of the
    exported stage-4 model (`finetune`: its weights, tokenizer and run state), which records
    where it started."""
    from pathlib import Path
    monkeypatch.setattr(data, "TOKENIZER_FROM", None)   # finetune sets it for its model
    hp = dict(TINY_HP, phases=[], stage4=TINY_STAGE4, stage5=TINY_STAGE5)
    full = train.train_recipe("with5", hp)
    state = torch.load(full, weights_only=False)["state"]
    assert state["stage5_start"] == 4 + 3 + 3 + 3 and state["step"] == 4 + 3 + 3 + 3 + 2
    four = train.train_recipe("only4", dict(TINY_HP, phases=[], stage4=TINY_STAGE4))
    train.export(Path(four), tmp_path / "model4")
    tuned = train.finetune("tuned", tmp_path / "model4", 5, settings=TINY_STAGE5)
    hp_tuned = json.loads((Path(tuned).parent / "hp.json").read_text())
    assert hp_tuned["finetune_from"] == str(tmp_path / "model4") and hp_tuned["stage5"]
    again = _weights(tuned)
    for name, w in _weights(full).items():
        assert torch.equal(w, again[name]), name


def test_stage4_learning_rate_warms_up_then_decays():
    gpu = curriculum.recipe_hp("gpu")
    hp = dict(gpu, **gpu["stage4"])
    first = train.lr_at(3200, hp, {2: 400, 3: 1800, 4: 3200})
    top = train.lr_at(3200 + hp["warmup_stage4"], hp, {2: 400, 3: 1800, 4: 3200})
    end = train.lr_at(3200 + hp["stage4_steps"], hp, {2: 400, 3: 1800, 4: 3200})
    assert first == pytest.approx(hp["lr_stage4"] / hp["warmup_stage4"])
    assert top == pytest.approx(hp["lr_stage4"])
    assert end == pytest.approx(hp["lr_min_stage4"])


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_training_worker_stops_when_its_parent_is_killed():
    """Killing a run's parent process stops its workers (they would otherwise train on)."""
    import signal
    import subprocess
    import sys
    import time
    child = ("import time; from course_model import train; train._exit_with_parent(0.1); "
             "print('ready', flush=True); time.sleep(60)")
    parent = ("import subprocess, sys, time; "
              f"c = subprocess.Popen([sys.executable, '-c', {child!r}]); "
              "print(c.pid, flush=True); time.sleep(60)")
    from pathlib import Path
    root = str(Path(__file__).resolve().parent.parent)
    p = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True,
                         cwd=root, env=dict(os.environ, PYTHONPATH=root))
    pid = int(p.stdout.readline())
    assert p.stdout.readline().strip() == "ready"   # the child watches its parent from here
    assert _alive(pid)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)


# ------------------------------------------------------------ stages declared once, all trained
def _two_steps_a_stage(name: str) -> dict:
    """Recipe `name`'s settings with every stage it schedules cut to two steps of two rows on a
    tiny CPU model in one process (stage 1 ends at the first probe, step 2)."""
    hp = dict(curriculum.recipe_hp(name), config=TINY_CONFIG, device="cpu", world=1, batch=2,
              stage1_max=2, probe_every=2, ckpt_every=2, log_every=1, warmup=1, phases=[])
    hp.pop("corpus_copies", None)   # extra corpora: minutes of generation, nothing to do with order
    for n in curriculum.stage_order():
        if curriculum.STAGES[n].own_settings and f"stage{n}" in hp:
            hp[f"stage{n}"] = dict(hp[f"stage{n}"], **{f"stage{n}_steps": 2, f"warmup_stage{n}": 1},
                                   batch=2, world=1, device="cpu", ckpt_every=2)
        elif f"stage{n}_steps" in hp:
            hp[f"stage{n}_steps"] = 2
    return hp


def _train_and_watch(run: str, hp: dict, monkeypatch) -> tuple[dict, list]:
    """train_recipe's final state and the (stream, index, batch) of every batch it drew."""
    calls = _batches_drawn(monkeypatch)
    state = torch.load(train.train_recipe(run, hp), weights_only=False)["state"]
    return state, calls


def _assert_every_stage_trained(state: dict, calls: list, stages: list[int]) -> None:
    """Each stage began right after the one before, ran its two logged steps and drew them from
    its own batch stream."""
    for k, n in enumerate(stages):
        assert train.stage_start(curriculum.STAGES[n], state) == 2 * k, n
        assert [row[3] for row in state["log"]].count(n) == 2, n
        stream = curriculum.STAGES[n].stream
        assert [i for s, i, _ in calls if s == stream] == [0, 1], n
    assert state["step"] == 2 * len(stages)


@pytest.mark.parametrize("name", sorted(curriculum.RECIPES))
def test_training_reaches_every_stage_of_the_recipe(name, tiny_workdir, monkeypatch):
    stages = sorted(curriculum.RECIPES[name].stages)
    assert train.hp_stages(curriculum.recipe_hp(name)) == stages
    state, calls = _train_and_watch(f"every_{name}", _two_steps_a_stage(name), monkeypatch)
    _assert_every_stage_trained(state, calls, stages)


def test_a_stage_added_to_the_table_is_trained(tiny_workdir, monkeypatch):
    """A stage declared in STAGES alone (plus its schedule row in a recipe) is trained by the
    loop, on its own stream, and listed by the card."""
    from course_model import card
    n = max(curriculum.STAGES) + 1
    stream = max(s.stream for s in curriculum.STAGES.values()) + 1
    monkeypatch.setitem(curriculum.STAGES, n, curriculum.Stage(
        n, {"repeat@2": 0.5, "facts@2": 0.5}, 300, stream=stream, own_settings=True))
    monkeypatch.setitem(data.N_DOCS, n, 300)   # the fixture's corpus size (it read STAGES before)
    last = curriculum.RECIPES["gpu-fv"]
    monkeypatch.setitem(curriculum.RECIPES, "longer", curriculum.Recipe(
        last.config, {**last.stages, n: curriculum.StageRun(2, (1e-3, 1e-4), warmup=1, batch=2,
                                                           device="cpu", world=1)},
        last.settings))
    hp = _two_steps_a_stage("longer")
    assert f"stage{n}" in hp and n in curriculum.own_stages()
    state, calls = _train_and_watch("longer", hp, monkeypatch)
    _assert_every_stage_trained(state, calls, curriculum.stage_order())
    assert card._stages_run(state)[-1] == n
    rows = card._schedule_rows(state, hp, curriculum.SEQ_LEN)
    assert rows[-1][:3] == (n, f"{2 * (n - 1):,}", "2")


def test_shipped_batch_streams_are_kept():
    """The streams fix which rows each step sees: a replay of the shipped run needs these."""
    assert {n: s.stream for n, s in curriculum.STAGES.items()} == {1: 1, 2: 2, 3: 4, 4: 5, 5: 6,
                                                                   6: 7}
    assert curriculum.POLISH_STREAM == 3
    assert curriculum.own_stages() == [4, 5, 6]


@pytest.mark.parametrize("change, message", [
    (dict(stream=2), "distinct"),                         # stage 2's stream
    (dict(stream=curriculum.POLISH_STREAM), "POLISH_STREAM"),
    (dict(own_settings=False), "may not follow"),         # shared settings after stage 6
])
def test_a_badly_declared_stage_is_refused(change, message, monkeypatch):
    base = dict(number=7, mix={"facts@2": 1.0}, docs=10, stream=8, own_settings=True)
    monkeypatch.setitem(curriculum.STAGES, 7, curriculum.Stage(**dict(base, **change)))
    with pytest.raises(ValueError, match=message):
        curriculum.stage_order()


def test_a_schedule_with_a_gap_is_refused(monkeypatch, tmp_path):
    """A recipe (or hp) that skips a stage would leave the later ones untrained: refused."""
    gpu = curriculum.RECIPES["gpu"]
    stages = {n: r for n, r in gpu.stages.items() if n != 4}
    monkeypatch.setitem(curriculum.RECIPES, "gap", curriculum.Recipe(gpu.config, stages,
                                                                     gpu.settings))
    with pytest.raises(ValueError, match="prefix"):
        curriculum.recipe_hp("gap")
    hp = curriculum.recipe_hp("gpu")
    del hp["stage4"]
    monkeypatch.setattr(train, "WORK_DIR", tmp_path)
    with pytest.raises(ValueError, match="in order"):
        train.train_recipe("gap", hp)


def test_a_run_past_the_gpu_stages_resumes_without_a_gpu(tiny_workdir, monkeypatch):
    """A stage-4 variant of the GPU recipe (a copy of stage4_start.pt) trains on the CPU alone:
    the GPU is asked for only by a stage that still has to run."""
    hp = dict(TINY_HP, phases=[], config=TINY_CONFIG, world=1, stage4=TINY_STAGE4)
    whole = train.train_recipe("on_cpu", hp)
    (tiny_workdir / "runs" / "variant4").mkdir(parents=True)
    (tiny_workdir / "runs" / "variant4" / "ckpt.pt").write_bytes(
        (tiny_workdir / "runs" / "on_cpu" / "stage4_start.pt").read_bytes())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for world in (1, 2):   # in this process, or before starting the workers
        with pytest.raises(train.NoGpuError):
            train.train_recipe(f"fresh{world}", dict(hp, device="cuda", world=world))
    again = _weights(train.train_recipe("variant4", dict(hp, device="cuda")))
    for name, w in _weights(whole).items():
        assert torch.equal(w, again[name]), name


def test_a_fine_tune_that_would_train_nothing_is_refused():
    shipped = json.loads((train.MODEL_DIR / "train_info.json").read_text())["run"]
    with pytest.raises(ValueError, match="trained stage 5 already"):
        train._check_finetune(shipped, "shipped", 5, resuming=False)
    train._check_finetune(shipped, "shipped", 5, resuming=True)     # a run of its own goes on
    train._check_finetune(shipped, "shipped", 6, resuming=False)    # the next stage
    four = {k: v for k, v in shipped.items() if not k.startswith("stage5")}
    with pytest.raises(ValueError, match="has not trained stage 5"):
        train._check_finetune(four, "stage-4 model", 6, resuming=False)
    with pytest.raises(ValueError, match="cannot be fine-tuned"):
        train._check_finetune(shipped, "shipped", 3, resuming=False)
