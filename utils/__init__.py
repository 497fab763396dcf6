"""The library of the course "Explaining large language models": model loading, AttnLRP,
hooks, plotting, widgets and one module of helpers per topic."""
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
COURSE_MODEL_DIR = COURSE_ROOT / "assets" / "models" / "course-llama"
# Where the course lives: the one place for it. Every notebook's set-up cell and the README's
# Colab badges are written from it by tools/course_links.py (a test keeps them in step).
COURSE_REPOSITORY = "https://github.com/xai-llm-course/xai-llm-course"
