"""`make model` in miniature: corpus -> tokenizer -> three curriculum stages -> export, and a
resumed run ends with exactly the weights of an uninterrupted one."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from course_model import data, train  # noqa: E402

TINY_HP = dict(train.HP, stage1_max=4, probe_every=2, ckpt_every=2, log_every=1,
               stage2_steps=3, stage3_steps=3, warmup=2, phases=[(3, dict(batch=2))])


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("course_model")
    mp = pytest.MonkeyPatch()
    mp.setattr(data, "WORK_DIR", work)
    mp.setattr(train, "WORK_DIR", work)
    mp.setattr(data, "N_DOCS", {1: 300, 2: 300, 3: 300})
    data.prepare()
    yield work
    mp.undo()


def _weights(path):
    return torch.load(path, weights_only=False)["model"]


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


def test_resume_is_exact(tiny_workdir):
    full = _weights(train.train("straight", dict(TINY_HP)))
    short = dict(TINY_HP, stage3_steps=1)   # stops early, as an interrupted run would
    train.train("resumed", short)
    resumed = _weights(train.train("resumed", dict(TINY_HP)))
    for name in full:
        assert torch.equal(full[name], resumed[name]), name


def test_stage3_learning_rate_restarts_and_decays():
    hp = dict(train.HP)
    top = train.lr_at(100, 0, hp, stage3_start=100)
    end = train.lr_at(100 + hp["stage3_steps"], 0, hp, stage3_start=100)
    assert top == pytest.approx(hp["lr_stage3"])
    assert end == pytest.approx(hp["lr_min"])
