"""python -m claims [NN ...]: which of the course's claims hold on XAI_MODEL (a markdown table)."""
import sys

from claims import NOTEBOOKS, Context, markdown, report
from utils.models import load_model, resolve_model_name


def main(argv: list[str]) -> int:
    notebooks = tuple(argv) or NOTEBOOKS
    model, tokenizer = load_model(verbose=False)
    name = resolve_model_name().source
    print(markdown(report(Context(model, tokenizer, name), notebooks), name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
