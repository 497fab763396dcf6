"""The curriculum table: every stage's corpus is the one the shipped model was trained on, the
families are registered once with both splits, and the corpus reads no teaching file."""
import ast
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from course_model import MODEL_DIR, curriculum, data
from course_model.families import REGISTRY, family

INFO = json.loads((MODEL_DIR / "train_info.json").read_text())
COURSE_MODEL = Path(curriculum.__file__).parent


@pytest.mark.parametrize("stage", sorted(curriculum.STAGES))
def test_stage_corpus_is_the_shipped_one(stage):
    """Regenerated from the table, each stage's documents hash to what train_info.json records
    for the shipped run (sha256 of the jsonl lines; seconds per stage)."""
    corp = INFO["corpus"]
    if f"stage{stage}_sha256" not in corp:
        pytest.skip(f"the shipped model was not trained on stage {stage}")
    docs = curriculum.generate(stage, corp[f"stage{stage}_docs"], curriculum.CORPUS_SEED)
    assert sum(len(d) for d in docs) == corp[f"stage{stage}_chars"]
    assert data.docs_sha256(docs) == corp[f"stage{stage}_sha256"]
    if stage == 2 and "sha256" in corp:   # the shipped record also hashes stages 1-2 together
        both = curriculum.generate(1, corp["stage1_docs"], 0) + docs
        assert data.docs_sha256(both) == corp["sha256"]


def test_shipped_recipe_is_the_recorded_run():
    """The recipe table's shipped recipe is, setting for setting, the hp the model was trained
    with (hp.json of the run, kept in train_info.json)."""
    hp = json.loads(json.dumps(curriculum.recipe_hp(curriculum.SHIPPED_RECIPE)))
    shipped = dict(INFO["hp"])
    # a stage fine-tuned from the exported model of the stage before records where it started
    # (the same weights and tokenizer a replay resumes from)
    shipped.pop("finetune_from", None)
    assert hp == shipped
    assert INFO["corpus"]["seq_len"] == curriculum.SEQ_LEN


def test_every_stage_mixes_registered_families():
    for n, st in curriculum.STAGES.items():
        assert abs(sum(st.mix.values()) - 1) < 1e-9, n
        assert all(k in REGISTRY for k in st.mix), n
    used = {k for st in curriculum.STAGES.values() for k in st.mix}
    assert used == set(REGISTRY)   # no family left over
    with pytest.raises(KeyError, match="reading@1"):
        family("reading@9")


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_family_draws_both_splits_deterministically(key):
    fam = REGISTRY[key]
    assert fam.key == key and fam.about and fam.heldout
    for split in ("train", "eval"):
        docs = [fam.make(random.Random(f"t-{i}"), split) for i in range(20)]
        assert docs == [fam.make(random.Random(f"t-{i}"), split) for i in range(20)]
        assert all(isinstance(d, str) and d for d in docs)


def test_generate_prefixes_do_not_depend_on_size():
    for n in curriculum.STAGES:
        assert curriculum.generate(n, 50, 1) == curriculum.generate(n, 200, 1)[:50]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_corpus_module_reads_teaching_files():
    """The corpus's modules import nothing from utils (a course prompt added there must not
    change the corpus): the values they need are frozen in course_model/course_tables.py.
    Only the evaluation reads utils.prompts, to measure the model on the course's live
    prompts (`lessons` inside its functions only: importing it imports no utils)."""
    for path in sorted(COURSE_MODEL.rglob("*.py")):
        if path.name in ("evaluate.py", "lessons.py"):   # measure on the course's prompts
            continue
        bad = {m for m in _imports(path) if m == "utils" or m.startswith("utils.")}
        assert not bad, (path.relative_to(COURSE_MODEL), bad)
    code = ("import sys; from course_model import curriculum, data, lessons, train; "
            "[curriculum.generate(n, 30, 0) for n in curriculum.STAGES]; "
            "print(sorted(m for m in sys.modules if m == 'utils' or m.startswith('utils.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=COURSE_MODEL.parent, check=True).stdout.strip()
    assert out == "[]", out
