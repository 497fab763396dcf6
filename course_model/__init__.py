"""The course model: a small Llama trained on a generated corpus (see assets/models/course-llama/README.md).

Modules: `families` (the registry of seeded document generators), `curriculum` (the stage
table: mixes, sizes, recipes; `generate`), `course_tables` (course values the corpus needs,
frozen), `handover` (patient records and source labels), `tokenizer` (byte-level BPE), `data`
(tokenise, pack, cache), `train` (a loop over the stages + export), `evaluate` (held-out
evaluation), `card` (model card from `card_template.md` and `history.json`).
"""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "assets" / "models" / "course-llama"
WORK_DIR = REPO / ".cache" / "course_model"   # corpora, checkpoints, logs (never committed)
