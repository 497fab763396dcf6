"""Utilities of the course "Explaining large language models": model loading, AttnLRP,
hooks, plotting, widgets and the exercise checks."""
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
COURSE_MODEL_DIR = COURSE_ROOT / "assets" / "models" / "course-llama"
