"""python -m claims [NN ...]: the claims table on XAI_MODEL (markdown: verdict, n, effect
against its control with the control's spread, threshold), and the time it took."""
import sys
import time

from claims import NOTEBOOKS, Context, markdown, report
from utils.models import load_model, resolve_model_name


def main(argv: list[str]) -> int:
    notebooks = tuple(argv) or NOTEBOOKS
    model, tokenizer = load_model(verbose=False)
    name = resolve_model_name().source
    start = time.perf_counter()
    results = report(Context(model, tokenizer, name), notebooks)
    print(markdown(results, name))
    print(f"\n{len(results)} claims decided in {time.perf_counter() - start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
