"""Around knowledge conflicts (notebook 04): where the two answers rank, contrastive head
scores, the monitor's data set and accuracy, and head relevance of every generated token.

Relevance of a set of counterfactuals is [n, 2, L, H]: sample, (parametric, contextual),
layer, head.
"""
from __future__ import annotations

import numpy as np
import torch

from utils.hooks import (decoder_body, head_output_x_gradient, head_outputs_in_graph,
                         o_proj_pre_hooks, unembedding)
from utils.models import input_device, model_shape
from utils.progress import progress
from utils.tokens import first_divergent_tokens


# ---------------------------------------------------------------------------------------------
# Contrastive head scores

def answer_ranks(model, tokenizer, sample):
    """Where the two answers stand among the next tokens: dict of ranks (1 = top) and probabilities."""
    input_ids, param_id, context_id = first_divergent_tokens(
        tokenizer, sample.prompt, " " + sample.parametric, " " + sample.contextual)
    with torch.no_grad():
        probs = model(input_ids.to(input_device(model))).logits[0, -1].float().softmax(-1)
    rank = lambda token: int((probs > probs[token]).sum()) + 1   # noqa: E731
    return {"parametric rank": rank(param_id), "contextual rank": rank(context_id),
            "p(parametric)": float(probs[param_id]), "p(contextual)": float(probs[context_id])}


def conflict_relevances(model, tokenizer, samples, top_k=10, *, relevance_fn, widen=True):
    """Exercise 1 over all samples: (relevance [n, 2, L, H], kept, skipped, top_k used).

    relevance_fn(model, tokenizer, sample, top_k) -> [2, L, H] or None: notebook 04's
    `conflict_head_relevance`. When no sample has both answers among the top_k next tokens,
    `widen` retries with a larger k (x5 each time, up to the vocabulary) and prints what it did,
    so a model that ranks the answers low (a small or random model) still gets an analysis,
    of answers it finds less likely.
    """
    vocab = model.get_output_embeddings().weight.shape[0]
    while True:
        kept, skipped, relevances = [], [], []
        for sample in progress(samples, desc=f"counterfactuals (top {top_k})"):
            relevance = relevance_fn(model, tokenizer, sample, top_k)
            if relevance is None:
                skipped.append(sample)
            else:
                kept.append(sample)
                relevances.append(relevance)
        if relevances or not widen or top_k >= vocab:
            break
        wider = min(5 * top_k, vocab)
        print(f"No sample has both answers among the top {top_k} next tokens: widening to the "
              f"top {wider}.")
        top_k = wider
    if not relevances:
        raise ValueError(f"No sample has both answers among the top {top_k} next tokens: raise "
                         "top_k, or check the prompts against the model's tokenizer.")
    return torch.stack(relevances), kept, skipped, top_k


def contrastive_scores(relevance):
    """Per head, mean parametric minus mean contextual relevance: [n, 2, L, H] -> [L, H].

    Each answer's relevance is first divided by its total |relevance| (answers differ in logit
    size); positive = the head favours the memorised answer, negative = the context's answer.
    """
    from utils.monitor import normalise_relevance

    normalised = normalise_relevance(relevance.float())
    return normalised[:, 0].mean(0) - normalised[:, 1].mean(0)


def heads_per_side(n_layers: int, n_heads: int) -> int:
    """How many memory and in-context heads notebook 04 selects: about 1 head in 12, 2 to 8."""
    return min(8, max(2, n_layers * n_heads // 12), n_layers * n_heads // 2)


def split_heads_by_source(scores, k):
    """The k most parametric (largest) and k most contextual (smallest) heads of [L, H]."""
    n_layers, n_heads = scores.shape
    if not 1 <= 2 * k <= n_layers * n_heads:
        raise ValueError(f"k={k} per side needs {2 * k} heads, the model has {n_layers * n_heads}: "
                         f"pick k <= {n_layers * n_heads // 2}.")
    order = torch.sort(scores.flatten(), descending=True, stable=True).indices
    as_head = lambda i: (int(i) // n_heads, int(i) % n_heads)   # noqa: E731
    return [as_head(i) for i in order[:k]], [as_head(i) for i in order.flip(0)[:k]]


# ---------------------------------------------------------------------------------------------
# The monitor

def monitor_dataset(relevance, heads):
    """Features [2n, len(heads)] and labels [2n] (1 = parametric) from relevance [n, 2, L, H]."""
    from utils.monitor import CONTEXTUAL, PARAMETRIC, head_features

    n = relevance.shape[0]
    features = head_features(relevance.reshape(2 * n, *relevance.shape[2:]), heads)
    labels = np.tile([PARAMETRIC, CONTEXTUAL], n)
    return features, labels


# ---------------------------------------------------------------------------------------------
# Head relevance of every generated token

def chat_ids(model, tokenizer, messages):
    """The chat template applied to `messages`, ready for the assistant's reply: [1, seq]."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("This tokenizer has no chat template: pick an instruction-tuned model "
                         "(e.g. unsloth/Llama-3.2-1B-Instruct) or the course model.")
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    return ids.to(input_device(model))


def token_head_relevance_loop(model, input_ids, start, *, head_relevance):
    """Head relevance of each token from `start` on, one forward+backward per token.

    input_ids: [1, seq]; token t is explained at position t - 1 with the prefix ids[:, :t].
    head_relevance(model, input_ids, target_id) -> [n_layers, n_heads]: notebook 02's answer.
    Call inside `attnlrp(model)`. Returns [seq - start, n_layers, n_heads].
    """
    rows = [head_relevance(model, input_ids[:, :t], int(input_ids[0, t]))
            for t in progress(range(start, input_ids.shape[1]), desc="per token")]
    return torch.stack(rows)


def token_head_relevance_batched(model, input_ids, start, route="auto"):
    """The same as `token_head_relevance_loop`, from one forward pass over the whole text.

    Three facts make it fast (and equal up to float rounding):
    1. Causal: the logits at position p depend only on ids[:p + 1], so one forward pass over the
       full text serves every prefix, and the output layer runs only on the explained rows.
    2. A head's relevance, sum over (q, k) of A[q, k] * dA[q, k], equals the sum over q of its
       output o[q] times the output's gradient g[q] (o[q] = sum_k A[q, k] v[k]), so the head
       outputs at o_proj's input are all we need to keep.
    3. Backward passes are linear in the output gradient u: one backward pass from sum_t u_t *
       logit_t (kept differentiable) gives every head's relevance as a linear function of u;
       differentiating it with respect to u (one pass per head) yields all tokens at once.
       That is n_layers * n_heads passes instead of one per token: route "heads". Where a model
       has more heads than tokens to explain, route "tokens" runs one backward pass per token
       on the shared forward pass instead. "auto" picks the smaller count.
    Call inside `attnlrp(model)`. input_ids: [1, seq]. Returns [seq - start, n_layers, n_heads].
    """
    if route not in ("auto", "heads", "tokens"):
        raise ValueError(f"route must be 'auto', 'heads' or 'tokens', not {route!r}.")
    n_layers, n_heads, _ = model_shape(model)
    seq = input_ids.shape[1]
    targets = torch.arange(start, seq)
    n_tokens = len(targets)
    # per layer: o_proj's input [1, seq - 1, n_heads * head_dim], in the graph
    with head_outputs_in_graph(model) as kept:
        embeds = model.get_input_embeddings()(input_ids[:, :seq - 1]).detach().requires_grad_(True)
        hidden = decoder_body(model)(inputs_embeds=embeds, use_cache=False).last_hidden_state
    outputs = [kept[layer] for layer in range(n_layers)]
    logits = unembedding(model)(hidden[0, targets.to(hidden.device) - 1])   # [n_tokens, vocab]
    scores = logits[torch.arange(n_tokens), input_ids[0, targets].to(logits.device)]

    def per_head(grads):   # per layer: [1, s, H * D] -> that layer's head relevance [H]
        return [head_output_x_gradient(o.detach(), g, n_heads) for g, o in zip(grads, outputs)]

    if route == "auto":
        route = "heads" if n_layers * n_heads <= n_tokens else "tokens"
    if route == "tokens":
        rows = [torch.stack([r.detach().float().cpu() for r in
                             per_head(torch.autograd.grad(scores[i], outputs, retain_graph=True))])
                for i in progress(range(n_tokens), desc="tokens")]
        return torch.stack(rows)
    weights = torch.zeros(n_tokens, device=scores.device, dtype=scores.dtype, requires_grad=True)
    grads = torch.autograd.grad(scores, outputs, grad_outputs=weights, create_graph=True)
    # One tensor per layer, not one stacked tensor: a pass for a head of layer l then only
    # walks back through the layers above l (a stacked tensor would drag every layer along).
    relevance = per_head(grads)                                   # linear in `weights`
    columns = [torch.autograd.grad(relevance[layer][head], weights, retain_graph=True)[0]
               for layer, head in progress([(l, h) for l in range(n_layers) for h in range(n_heads)],
                                           desc="heads")]
    return torch.stack(columns, dim=1).reshape(n_tokens, n_layers, n_heads).float().cpu()


# ---------------------------------------------------------------------------------------------
# Are the heads causal? Mean ablation

def mean_head_outputs_over(model, tokenizer, samples) -> torch.Tensor:
    """Each head's output (o_proj input slice) averaged over every position of every sample's
    prompt: [n_layers, n_heads, head_dim], the value a mean-ablated head is replaced with."""
    from utils.hooks import capture_head_outputs

    n_layers, _, _ = model_shape(model)
    total, count = None, 0
    with torch.no_grad(), capture_head_outputs(model) as outputs:
        for sample in samples:
            ids, _, _ = first_divergent_tokens(tokenizer, sample.prompt, " " + sample.parametric,
                                               " " + sample.contextual)
            model(ids.to(input_device(model)))
            sums = torch.stack([outputs[layer][0].float().sum(0).cpu() for layer in range(n_layers)])
            total = sums if total is None else total + sums
            count += ids.shape[1]
    return total / count


def answer_rates(model, tokenizer, samples, heads=(), mean_outputs=None) -> dict:
    """Which answer wins over `samples`, with `heads` mean-ablated at every position.

    Returns the context-answer rate (share of samples whose contextual answer's logit beats
    the parametric one's), the memory-answer rate (the reverse) and the mean logit difference
    contextual - parametric. heads: [(layer, head)]; mean_outputs: [L, H, head_dim].
    """
    from utils.hooks import o_proj_pre_hooks

    n_layers, n_heads, head_dim = model_shape(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(int(layer), []).append(int(head))

    def ablate(layer):
        def hook(module, args):
            x = args[0].clone().unflatten(-1, (n_heads, head_dim))
            for head in by_layer[layer]:
                x[..., head, :] = mean_outputs[layer, head].to(x)
            return (x.flatten(-2),) + tuple(args[1:])
        return hook

    diffs = []
    with torch.no_grad(), o_proj_pre_hooks(model, {layer: ablate(layer) for layer in by_layer}):
        for sample in samples:
            ids, param_id, context_id = first_divergent_tokens(
                tokenizer, sample.prompt, " " + sample.parametric, " " + sample.contextual)
            logits = model(ids.to(input_device(model))).logits[0, -1].float()
            diffs.append(float(logits[context_id] - logits[param_id]))
    diffs = np.array(diffs)
    return {"context-answer rate": float((diffs > 0).mean()),
            "memory-answer rate": float((diffs < 0).mean()),
            "logit diff (context - memory)": float(diffs.mean())}


def ablation_table(model, tokenizer, samples, param_heads, context_heads, n_random=10, seed=0):
    """Answer rates with nothing ablated, the in-context heads, the memory heads, and (mean over
    n_random draws) as many random heads: a pandas DataFrame, one row per intervention."""
    import pandas as pd

    n_layers, n_heads, _ = model_shape(model)
    means = mean_head_outputs_over(model, tokenizer, samples)
    rows = {"nothing ablated": answer_rates(model, tokenizer, samples),
            "in-context heads ablated": answer_rates(model, tokenizer, samples, context_heads, means),
            "memory heads ablated": answer_rates(model, tokenizer, samples, param_heads, means)}
    rng = np.random.default_rng(seed)
    k = len(context_heads)
    draws = [answer_rates(model, tokenizer, samples,
                          [divmod(int(i), n_heads) for i in rng.choice(n_layers * n_heads, k, replace=False)],
                          means) for _ in range(n_random)]
    rows[f"{k} random heads ablated (mean of {n_random})"] = {
        key: float(np.mean([d[key] for d in draws])) for key in draws[0]}
    rows[f"{k} random heads: spread (std)"] = {
        key: float(np.std([d[key] for d in draws])) for key in draws[0]}
    return pd.DataFrame(rows).T


def ablation_verdicts(table) -> dict[str, tuple[bool, str]]:
    """From `ablation_table`: do in-context heads carry the context answers, memory heads the
    memory answers? Each: (holds, sentence with the figures and the random-heads control).
    Holds when ablating the heads lowers that answer's rate, and lowers it more than ablating
    as many random heads does on average."""
    base = table.loc["nothing ablated"]
    random_row = table.loc[[i for i in table.index if "random heads ablated" in i][0]]
    verdicts = {}
    for key, row, rate in (("in-context", "in-context heads ablated", "context-answer rate"),
                           ("memory", "memory heads ablated", "memory-answer rate")):
        after, control = table.loc[row, rate], random_row[rate]
        holds = bool(after < base[rate] and after < control)
        verdicts[key] = (holds, f"{rate} {base[rate]:.2f} -> {after:.2f} with the {key} heads "
                                f"mean-ablated; {control:.2f} with as many random heads")
    return verdicts


# ---------------------------------------------------------------------------------------------
# Held-out ablation: heads chosen on some conflicts, ablated on others, beside random heads

def ablated_logit_diffs(model, tokenizer, samples, head_sets, mean_outputs,
                        rows_per_batch: int = 240) -> np.ndarray:
    """Logit difference contextual - parametric of every sample, with each head set mean-ablated.

    head_sets: list of [(layer, head)] (an empty list ablates nothing); mean_outputs:
    [L, H, head_dim] from `mean_head_outputs_over`. All samples of several head sets run as one
    left-padded batch; each row carries its own head mask. Returns [n_sets, n_samples].
    """
    from utils.hooks import layers_from, o_proj_pre_hooks
    from utils.logits import left_padded

    n_layers, n_heads, head_dim = model_shape(model)
    prompts, answer_ids = [], []
    for sample in samples:
        ids, param_id, context_id = first_divergent_tokens(
            tokenizer, sample.prompt, " " + sample.parametric, " " + sample.contextual)
        prompts.append(ids[0].tolist())
        answer_ids.append((param_id, context_id))
    masks = torch.zeros(len(head_sets), n_layers, n_heads, dtype=torch.bool)
    for i, heads in enumerate(head_sets):
        for layer, head in heads:
            if not (0 <= layer < n_layers and 0 <= head < n_heads):
                raise ValueError(f"Head L{layer}H{head} does not exist: the model has "
                                 f"{n_layers} layers of {n_heads} heads.")
            masks[i, layer, head] = True
    device = input_device(model)
    ids, attention, positions = (t.to(device) for t in left_padded(tokenizer, prompts))
    n = len(samples)
    sets_per_batch = max(1, rows_per_batch // n)
    param = torch.tensor([p for p, _ in answer_ids])
    context = torch.tensor([c for _, c in answer_ids])
    # Layers below a set's lowest head run as without ablation: batches start there, from the
    # unablated residual stream (exact; layer-matched controls share their chosen set's layers)
    firsts = [min((int(layer) for layer, _ in heads), default=n_layers) for heads in head_sets]
    with torch.no_grad():
        hidden_states = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                              output_hidden_states=True, logits_to_keep=1).hidden_states
    batches: dict[int, list[int]] = {}
    for i in sorted(range(len(head_sets)), key=lambda i: firsts[i]):
        batches.setdefault(firsts[i], []).append(i)
    result = torch.zeros(len(head_sets), n)
    for first, members in batches.items():
        for start in range(0, len(members), sets_per_batch):
            chunk = members[start:start + sets_per_batch]
            row_mask = masks[chunk].repeat_interleave(n, dim=0).to(device)

            def ablate(layer, row_mask=row_mask):
                def hook(module, args):
                    x = args[0].unflatten(-1, (n_heads, head_dim))          # [rows, seq, H, D]
                    mean = mean_outputs[layer].to(x)                          # [H, D]
                    x = torch.where(row_mask[:, None, layer, :, None], mean, x)   # a new tensor
                    return (x.flatten(-2),) + tuple(args[1:])
                return hook

            rows = len(chunk)
            start_layer = min(first, n_layers - 1)     # nothing ablated: run the last layer alone
            layers = [layer for layer in range(n_layers) if row_mask[:, layer].any()]
            with torch.no_grad(), o_proj_pre_hooks(model, {layer: ablate(layer) for layer in layers}), \
                    layers_from(model, start_layer):
                logits = model(inputs_embeds=hidden_states[start_layer].repeat(rows, 1, 1),
                               attention_mask=attention.repeat(rows, 1),
                               position_ids=positions.repeat(rows, 1), use_cache=False,
                               logits_to_keep=1).logits[:, -1].float().cpu()
            logits = logits.reshape(rows, n, -1)
            result[chunk] = logits[:, torch.arange(n), context] - logits[:, torch.arange(n), param]
    return result.numpy()


def layer_matched_sets(heads, n_heads: int, n_sets: int, rng) -> list[list[tuple[int, int]]]:
    """n_sets random sets of heads, each with one head from the layer of every head in `heads`
    (distinct within a set): the control when where a head sits matters as much as which it is."""
    sets = []
    for _ in range(n_sets):
        drawn: list[tuple[int, int]] = []
        for layer, _ in heads:
            free = [h for h in range(n_heads) if (int(layer), h) not in drawn]
            drawn.append((int(layer), int(rng.choice(free))))
        sets.append(drawn)
    return sets


def ablation_against_random(model, tokenizer, samples, memory_heads, context_heads,
                            n_random: int = 100, seed: int = 0) -> dict:
    """Mean ablation of the chosen heads on `samples`, beside n_random layer-matched random sets
    for each side (a random head from the layer of each chosen head; the same sets for every
    sample).

    Pass samples the heads were *not* chosen on (notebook 04: heads from COUNTERFACTUALS,
    ablated on HELD_OUT_COUNTERFACTUALS), so that the score does not reward fitting the
    choosing samples' quirks. The mean outputs come from the samples' prompts (no labels).
    Returns dict of logit differences contextual - parametric: "nothing ablated" [n],
    "in-context heads" [n], "memory heads" [n], "random in-context" and "random memory"
    [n_random, n] (the layer-matched controls of each side).
    """
    _, n_heads, _ = model_shape(model)
    if len(samples) < 2:
        raise ValueError(f"The ablation needs at least 2 samples to give a rate, got {len(samples)}.")
    if not memory_heads or not context_heads:
        raise ValueError("Give at least one memory head and one in-context head to ablate.")
    rng = np.random.default_rng(seed)
    random_context = layer_matched_sets(context_heads, n_heads, n_random, rng)
    random_memory = layer_matched_sets(memory_heads, n_heads, n_random, rng)
    means = mean_head_outputs_over(model, tokenizer, samples)
    diffs = ablated_logit_diffs(model, tokenizer, samples,
                                [[], list(context_heads), list(memory_heads)]
                                + random_context + random_memory, means)
    return {"nothing ablated": diffs[0], "in-context heads": diffs[1], "memory heads": diffs[2],
            "random in-context": diffs[3:3 + n_random], "random memory": diffs[3 + n_random:]}


def plot_ablation_against_random(result: dict):
    """Two panels: the context-answer and the memory-answer rate of each layer-matched random
    head set (histogram), with the chosen heads' rate and the rate with nothing ablated marked."""
    from matplotlib.figure import Figure

    from utils.colours import CONTEXT, MEMORY, NEUTRAL

    fig = Figure(figsize=(9, 3.4))
    n = len(result["nothing ablated"])
    for ax, (rate, column, control, wins, colour) in zip(fig.subplots(1, 2), (
            ("context-answer rate", "in-context heads", "random in-context", lambda d: d > 0, CONTEXT),
            ("memory-answer rate", "memory heads", "random memory", lambda d: d < 0, MEMORY))):
        draws = wins(result[control]).mean(axis=1)
        bins = np.arange(n + 2) / n - 0.5 / n                 # one bin per possible rate
        ax.hist(draws, bins=bins, color=NEUTRAL, label=f"{len(draws)} layer-matched random sets")
        ax.axvline(float(wins(result[column]).mean()), color=colour, linewidth=2.5,
                   label=f"{column} (chosen on other samples)")
        ax.axvline(float(wins(result["nothing ablated"]).mean()), color="black", linestyle="--",
                   label="nothing ablated")
        ax.set_xlabel(f"{rate} over {n} samples")
        ax.set_ylabel("random head sets")
        ax.set_title(f"Ablating the {column} vs random heads")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
