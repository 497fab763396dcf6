"""Function vectors (Todd et al. 2024) around notebook 03's exercises: word-task prompts, adding a
vector to the residual stream, first-token accuracy, LRP head relevance and the controls.

A function vector is the sum of a few attention heads' mean outputs over many in-context
prompts of one task ("hot -> cold\\nbig -> small\\nfast ->"). Added to the residual stream of a
zero-shot prompt ("fast ->"), it should make the model do the task without demonstrations.
The exercises (solutions.function_vectors) compute the mean head outputs, the heads' causal
indirect effects and the vector; this module builds the prompts and measures the result.
"""
from __future__ import annotations

import random
from contextlib import contextmanager

import torch

from utils.function_vector_report import shuffled_labels
from utils.hooks import head_output_x_gradient, head_outputs_in_graph, layer_output_hooks
from utils.logits import last_position_logits
from utils.lrp import attnlrp
from utils.models import model_shape
from utils.prompts import FV_DEMO_PAIRS, FV_TASKS
from utils.tokens import answer_token_id, encode
from utils.validate import check_finite, check_int_in_range, check_layer, check_position_or_last

FORMATS = {   # (input line, output line) of one demonstration; the answer follows with a space
    "arrow": ("{x} ->", " {y}"),
    "colon": ("{x}:", " {y}"),
    "qa": ("Q: {x}\nA:", " {y}"),
}


def _check_format(fmt: str) -> tuple[str, str]:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown prompt format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    return FORMATS[fmt]


def icl_prompt(pairs_demo, query: str, fmt: str = "arrow") -> str:
    """In-context prompt: one line per demonstration (input, output), then the query.

    icl_prompt([("hot", "cold"), ("big", "small")], "fast") == "hot -> cold\\nbig -> small\\nfast ->"
    """
    x_line, y_line = _check_format(fmt)
    lines = [x_line.format(x=x) + y_line.format(y=y) for x, y in pairs_demo]
    return "\n".join(lines + [x_line.format(x=query)])


def zero_shot_prompt(query: str, fmt: str = "arrow") -> str:
    """The query alone, no demonstrations: zero_shot_prompt("fast") == "fast ->"."""
    return icl_prompt([], query, fmt)


def task_pairs(task: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(demonstration pairs, held-out query pairs) of a task of utils.prompts.FV_TASKS."""
    if task not in FV_TASKS:
        raise ValueError(f"Unknown task {task!r}: choose one of {', '.join(FV_TASKS)}.")
    pairs = FV_TASKS[task]
    return pairs[:FV_DEMO_PAIRS], pairs[FV_DEMO_PAIRS:]


def icl_prompts(task: str, n_prompts: int = 8, n_demos: int = 4, shuffled: bool = False,
                fmt: str = "arrow", seed: int = 0) -> tuple[list[str], list[str]]:
    """`n_prompts` in-context prompts of `task` built from its demonstration pairs only, and
    their answers (" word").

    Each prompt draws n_demos demonstrations and a different query from the demonstration
    pairs (seeded). shuffled=True permutes the demonstrations' outputs among themselves, so the
    labels no longer follow the task: the setting in which a head's mean output is patched to
    measure its causal indirect effect.
    """
    demos, _ = task_pairs(task)
    if not 1 <= n_demos < len(demos):
        raise ValueError(f"n_demos must lie in 1..{len(demos) - 1} (the task has {len(demos)} "
                         "demonstration pairs and one is the query).")
    rng = random.Random(seed)
    label_rng = random.Random(seed + 1)   # its own stream: shuffled prompts ask the same queries
    prompts, answers = [], []
    for _ in range(n_prompts):
        picked = rng.sample(demos, n_demos + 1)
        shown, (query, answer) = picked[:-1], picked[-1]
        if shuffled:
            shown = shuffled_labels(shown, label_rng, tries=20)
        prompts.append(icl_prompt(shown, query, fmt))
        answers.append(" " + answer)
    return prompts, answers


def zero_shot_queries(task: str, fmt: str = "arrow") -> tuple[list[str], list[str]]:
    """The held-out queries of `task` as zero-shot prompts, and their answers (" word")."""
    _, held_out = task_pairs(task)
    return [zero_shot_prompt(x, fmt) for x, _ in held_out], [" " + y for _, y in held_out]


def _output_hidden(output):
    return output[0] if isinstance(output, tuple) else output


@contextmanager
def add_to_residual(model, vector: torch.Tensor, layer: int, position: int = -1):
    """Inside the block, `vector` [d_model] is added to the hidden state leaving decoder layer
    `layer` at `position` of every forward pass (during cached generation: each newest token).

    position: -1 (the last token, the default) or a position counted from the start."""
    d_model = model.config.hidden_size
    vector = torch.as_tensor(vector)
    if vector.shape != (d_model,):
        raise ValueError(f"The vector must have shape [d_model] = [{d_model}], got "
                         f"{tuple(vector.shape)}. Build it with function_vector(...).")
    check_finite(vector, "vector")
    layer = check_layer(model, layer)
    position = check_position_or_last(position)

    def hook(module, args, output):
        hidden = _output_hidden(output).clone()     # the model's own tensor stays untouched
        if position >= hidden.shape[1]:
            raise ValueError(f"position {position} is past the end of a {hidden.shape[1]}-token "
                             "input: use -1 for the last token.")
        hidden[:, position] += vector.to(hidden.device, hidden.dtype)
        return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden

    with layer_output_hooks(model, {layer: hook}):
        yield


def first_answer_ids(tokenizer, prompts, answers) -> list[int]:
    """The first token of each answer as it follows its prompt."""
    if len(prompts) != len(answers) or not prompts:
        raise ValueError(f"Give one answer per prompt (got {len(prompts)} prompts and "
                         f"{len(answers)} answers), at least one of each.")
    return [answer_token_id(tokenizer, p, a) for p, a in zip(prompts, answers)]


def last_logits(model, tokenizer, prompts, vector=None, layer=None) -> torch.Tensor:
    """Next-token logits at the end of each prompt [n, vocab] (float, CPU), batched
    (utils.logits), with `vector` added at the last position of decoder layer `layer` when given."""
    if (vector is None) != (layer is None):
        raise ValueError("Give both `vector` and `layer`, or neither.")
    if vector is None:
        return last_position_logits(model, tokenizer, prompts)
    with add_to_residual(model, vector, layer):   # left padding: -1 is every prompt's end
        return last_position_logits(model, tokenizer, prompts)


def first_token_accuracy(model, tokenizer, prompts, answers, vector=None, layer=None) -> float:
    """Share of prompts whose greedy next token is the first token of their answer, optionally
    with `vector` [d_model] added after decoder layer `layer` at the last position."""
    targets = torch.tensor(first_answer_ids(tokenizer, prompts, answers))
    logits = last_logits(model, tokenizer, prompts, vector, layer)
    return float((logits.argmax(-1) == targets).float().mean())


def answer_probability(model, tokenizer, prompts, answers, vector=None, layer=None) -> float:
    """Mean probability of each answer's first token (a finer measure than accuracy)."""
    targets = torch.tensor(first_answer_ids(tokenizer, prompts, answers))
    probs = last_logits(model, tokenizer, prompts, vector, layer).softmax(-1)
    return float(probs[torch.arange(len(targets)), targets].mean())


def answer_logprob(model, tokenizer, prompts, answers, vector=None, layer=None) -> float:
    """Mean log-probability of each answer's first token: moves even where accuracy stays 0."""
    targets = torch.tensor(first_answer_ids(tokenizer, prompts, answers))
    logp = last_logits(model, tokenizer, prompts, vector, layer).log_softmax(-1)
    return float(logp[torch.arange(len(targets)), targets].mean())


def lrp_head_relevance(model, tokenizer, prompts, answers) -> torch.Tensor:
    """AttnLRP relevance of each head's output at the last position for the answer's first
    token, averaged over prompts: [n_layers, n_heads].

    As in "Fast and Faithful Function Vectors": one backward pass per prompt scores every head
    at once (head output x its gradient, summed over head_dim), where the causal indirect effect
    needs one patched forward pass per head.
    """
    n_layers, n_heads, _ = model_shape(model)
    targets = first_answer_ids(tokenizer, prompts, answers)
    total = torch.zeros(n_layers, n_heads)
    for prompt, target in zip(prompts, targets):
        ids = encode(tokenizer, prompt, model)
        with attnlrp(model), head_outputs_in_graph(model) as kept:
            embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
            logits = model(inputs_embeds=embeds, use_cache=False).logits[0, -1]
            layers = sorted(kept)
            grads = torch.autograd.grad(logits[target], [kept[layer] for layer in layers])
        for layer, grad in zip(layers, grads):
            relevance = head_output_x_gradient(kept[layer], grad, n_heads, position=-1)
            total[layer] += relevance.float().detach().cpu()
    return total / len(prompts)


def random_heads(model, k: int, seed: int = 0) -> list[tuple[int, int]]:
    """`k` heads drawn at random without replacement (seeded): the random-head control."""
    n_layers, n_heads, _ = model_shape(model)
    k = check_int_in_range(k, 1, n_layers * n_heads, "k",
                           f"The model has {n_layers * n_heads} heads in all.")
    order = torch.randperm(n_layers * n_heads, generator=torch.Generator().manual_seed(seed))
    return [divmod(int(i), n_heads) for i in order[:k]]


def head_overlap(heads_a, heads_b, n_total: int) -> tuple[int, float]:
    """Shared heads of two equal-size choices, and how many two random choices of that size
    share on average (k * k / n_total)."""
    k = len(heads_a)
    return len(set(map(tuple, heads_a)) & set(map(tuple, heads_b))), k * k / n_total


def accuracy_table(model, tokenizer, vectors: dict, layer: int, controls: dict | None = None,
                   metric=first_token_accuracy):
    """Zero-shot score on each task's held-out queries: no vector, the task's own vector, and
    each control. vectors: task -> [d_model]; controls: name -> (task -> [d_model]); metric:
    first_token_accuracy (0..1) or answer_logprob. Returns a pandas DataFrame, one row per task,
    one column per condition.
    """
    import pandas as pd

    rows = {}
    for task, vector in vectors.items():
        prompts, answers = zero_shot_queries(task)
        row = {"no vector": metric(model, tokenizer, prompts, answers),
               "function vector": metric(model, tokenizer, prompts, answers, vector, layer)}
        for name, by_task in (controls or {}).items():
            row[name] = metric(model, tokenizer, prompts, answers, by_task[task], layer)
        rows[task] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def function_vector_verdict(table, margin: float = 0.1, what: str = "accuracy") -> tuple[bool, str]:
    """Whether the function vector beats every control (each column of `table` but its own)
    on average over tasks by at least `margin`: (holds, figure). table: accuracy_table's output;
    what names the measure in the figure."""
    means = table.mean()
    best_control = means.drop("function vector").idxmax()
    holds = bool(means["function vector"] - means[best_control] >= margin)
    figure = (f"mean held-out {what} {means['function vector']:.2f} with the function vector; "
              + ", ".join(f"{c} {means[c]:.2f}" for c in means.index if c != "function vector")
              + f" ({len(table)} tasks)")
    return holds, figure


def choose_heads(model, tokenizer, task: str, k: int, *, mean_head_outputs, indirect_effects,
                 n_prompts: int = 8, n_shuffled: int = 2, seed: int = 0) -> dict:
    """Everything notebook 03 measures on one task's in-context prompts.

    mean_head_outputs, indirect_effects: the notebook's exercises (the learner's or the
    reference). Mean outputs over n_prompts clean prompts; indirect effects on n_shuffled
    prompts with shuffled labels; LRP head relevance on the clean prompts. Returns a dict:
    mean_outputs [L, H, D], effects [L, H], lrp [L, H], and the top-k heads of each
    ("heads_ie", "heads_lrp").
    """
    from utils.heads import select_top_heads

    prompts, answers = icl_prompts(task, n_prompts, seed=seed)
    shuffled, shuffled_answers = icl_prompts(task, n_shuffled, shuffled=True, seed=seed + 1)
    means = mean_head_outputs(model, tokenizer, prompts)
    effects = indirect_effects(model, tokenizer, shuffled, shuffled_answers, means)
    lrp = lrp_head_relevance(model, tokenizer, prompts, answers)
    return {"mean_outputs": means, "effects": effects, "lrp": lrp,
            "heads_ie": select_top_heads(effects, k), "heads_lrp": select_top_heads(lrp, k)}


def overlap_verdict(found: dict, n_total: int) -> tuple[bool, str]:
    """Do the heads chosen by indirect effect and by LRP relevance share more heads than two
    random choices of the same size would (on average over tasks)? found: task -> choose_heads'
    dict. Returns (holds, figure)."""
    shared = [head_overlap(f["heads_ie"], f["heads_lrp"], n_total)[0] for f in found.values()]
    k = len(next(iter(found.values()))["heads_ie"])
    chance = k * k / n_total
    mean = sum(shared) / len(shared)
    return bool(mean > 2 * chance), (f"on average {mean:.1f} of {k} heads shared "
                                     f"({', '.join(map(str, shared))} over {len(shared)} tasks); "
                                     f"two random choices share {chance:.2f}")


def vectors_and_controls(model, found: dict, *, function_vector, seed: int = 0):
    """Each task's function vector and the two vector controls.

    found: task -> choose_heads' dict; function_vector: the notebook's exercise. Returns
    (vectors, controls) with vectors task -> [d_model] from the indirect-effect heads and
    controls {"random heads": same number of random heads of the same task's mean outputs,
    "another task's vector": the next task's vector}.
    """
    tasks = list(found)
    vectors = {t: function_vector(model, found[t]["mean_outputs"], found[t]["heads_ie"])
               for t in tasks}
    k = len(found[tasks[0]]["heads_ie"])
    randoms = {t: function_vector(model, found[t]["mean_outputs"],
                                  random_heads(model, k, seed + i)) for i, t in enumerate(tasks)}
    others = {t: vectors[tasks[(i + 1) % len(tasks)]] for i, t in enumerate(tasks)}
    return vectors, {"random heads": randoms, "another task's vector": others}


def in_context_table(model, tokenizer, n_prompts: int = 8):
    """Does the model do each task at all? First-token accuracy with demonstrations (in-context
    prompts of demonstration pairs) and on the held-out queries alone (zero-shot)."""
    import pandas as pd

    rows = {}
    for task in FV_TASKS:
        prompts, answers = icl_prompts(task, n_prompts, seed=7)
        queries, query_answers = zero_shot_queries(task)
        rows[task] = {"in context": first_token_accuracy(model, tokenizer, prompts, answers),
                      "zero-shot": first_token_accuracy(model, tokenizer, queries, query_answers)}
    return pd.DataFrame.from_dict(rows, orient="index")


# The whole protocol on any list of word pairs lives in its own module; importable from here too.
from utils.function_vector_report import function_vector_report  # noqa: E402,F401
