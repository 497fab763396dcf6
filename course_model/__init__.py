"""The course model: a small Llama trained on a generated corpus (see assets/models/course-llama/README.md).

Modules: `corpus` (seeded document generator), `handover` (patient records and source labels),
`tokenizer` (byte-level BPE), `data` (tokenise and pack), `train` (curriculum training + export),
`evaluate` (held-out evaluation), `card` (model card).
"""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "assets" / "models" / "course-llama"
WORK_DIR = REPO / ".cache" / "course_model"   # corpora, checkpoints, logs (never committed)
