"""Activation patching with plain PyTorch hooks on a Hugging Face Llama / Qwen model.

    pair = align_prompts(tokenizer, clean_prompt, corrupted_prompt, answer=" positive", model=model)
    cache = cache_activations(model, pair.clean_inputs())
    logits = run_with_patches(model, pair, cache, [Patch("resid", layer=2, position=5), ...])

Every hook lives inside a context manager and is removed on exit, errors included. A batch of
corrupted copies runs in one forward pass, each row with its own patch: the same numbers as one
patch per run, many times faster.

Sites (what a patch replaces with the clean run's value):
    "resid"    residual stream entering decoder layer `layer`                [S, d]
    "z"        one head's output (the input of o_proj, before mixing heads)  [S, H, dh]
    "q"        one head's query (output of q_proj, before RoPE)              [S, H, dh]
    "k", "v"   one key / value head (outputs of k_proj / v_proj)             [S, H_kv, dh]
    "pattern"  one head's attention probabilities (query x key)              [H, S, S]
With grouped-query attention a key/value head serves several query heads, so "k" and "v"
patches index key/value heads (0 .. H_kv - 1), not query heads.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral

import torch

from utils.colours import RELEVANCE_CMAP
from utils.hooks import layer_pre_hooks, layers_from, o_proj_pre_hooks, projection_hooks
from utils.models import input_device, model_shape
from utils.progress import progress
from utils.tokens import readable_token
from utils.validate import check_finite, check_prompt, check_prompt_length

SITES = ("resid", "z", "q", "k", "v", "pattern")
HEAD_SITES = ("z", "q", "k", "v", "pattern")
PAD_LABEL = "∅"


# --------------------------------------------------------------------------------------------
# Model anatomy
# --------------------------------------------------------------------------------------------
def n_kv_heads(model) -> int:
    """Number of key/value heads (fewer than query heads under grouped-query attention)."""
    cfg = model.config
    return getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads


def site_heads(model, site: str) -> int:
    """How many heads a per-head site has: query heads, or key/value heads for "k" and "v"."""
    _check_site(site)
    return n_kv_heads(model) if site in ("k", "v") else model_shape(model)[1]


def _check_site(site: str) -> None:
    if site not in SITES:
        raise ValueError(f"Unknown site {site!r}: choose one of {', '.join(SITES)}.")


# --------------------------------------------------------------------------------------------
# Clean and corrupted prompts, token for token
# --------------------------------------------------------------------------------------------
@dataclass
class AlignedPair:
    """A clean and a corrupted prompt laid out on the same positions.

    Where the two differ in length (e.g. " neutral" is one token, " mixed" two), the shorter
    side gets pad tokens right after its differing tokens; pads are masked out of attention
    and skipped by the position ids, so the model computes exactly what it computes on the
    unpadded prompt. All tensors are [1, S] on the model's input device.
    """
    clean_ids: torch.Tensor
    corrupted_ids: torch.Tensor
    clean_mask: torch.Tensor
    corrupted_mask: torch.Tensor
    labels: list[str]          # axis labels: token text, "clean/corrupted" where they differ
    answer_id: int             # the correct answer's first token
    differs: list[bool] = field(default_factory=list)   # positions whose tokens differ
    only: tuple | None = None  # patch only these positions (see `subset`); None: all of them

    @property
    def seq_len(self) -> int:
        return self.clean_ids.shape[1]

    @property
    def valid_positions(self) -> torch.Tensor:
        """Positions that hold a real token in both prompts (the only ones worth patching)."""
        both = (self.clean_mask[0] > 0) & (self.corrupted_mask[0] > 0)
        valid = torch.nonzero(both).flatten().cpu()
        if self.only is not None:
            valid = valid[torch.isin(valid, torch.tensor(self.only, dtype=torch.long))]
        return valid

    def subset(self, positions) -> "AlignedPair":
        """The same pair, with patching restricted to `positions` (e.g. for a quick timing)."""
        positions = tuple(int(p) for p in positions)
        if not positions or not all(0 <= p < self.seq_len for p in positions):
            raise ValueError(f"Positions must be a non-empty list within 0 .. {self.seq_len - 1}.")
        return dataclasses.replace(self, only=positions)

    def swapped(self) -> "AlignedPair":
        """The same pair with the two runs' roles exchanged, for **noising**: patches then copy
        the corrupted run's activations (cache them from `pair.corrupted_inputs()`) into the
        clean run. The answer stays the clean run's correct answer."""
        labels = ["/".join(t.split("/")[::-1]) if d else t for t, d in zip(self.labels, self.differs)]
        return dataclasses.replace(self, clean_ids=self.corrupted_ids, corrupted_ids=self.clean_ids,
                                   clean_mask=self.corrupted_mask, corrupted_mask=self.clean_mask,
                                   labels=labels)

    def clean_inputs(self, batch: int = 1) -> dict:
        return _model_inputs(self.clean_ids, self.clean_mask, batch)

    def corrupted_inputs(self, batch: int = 1) -> dict:
        return _model_inputs(self.corrupted_ids, self.corrupted_mask, batch)


def _model_inputs(ids: torch.Tensor, mask: torch.Tensor, batch: int) -> dict:
    """Keyword arguments for the model: ids, and where there are pads, a mask and position
    ids that skip them (without pads the model's defaults are the same, and faster)."""
    inputs = {"input_ids": ids.expand(batch, -1), "use_cache": False}
    if not bool(mask.all()):
        positions = (mask.long().cumsum(-1) - 1).clamp_min(0)
        inputs.update(attention_mask=mask.expand(batch, -1), position_ids=positions.expand(batch, -1))
    return inputs


def align_prompts(tokenizer, clean_prompt: str, corrupted_prompt: str, answer: str,
                  model=None) -> AlignedPair:
    """Tokenize both prompts and align them position by position (see AlignedPair)."""
    from utils.tokens import answer_token_id

    for name, text in (("clean", clean_prompt), ("corrupted", corrupted_prompt)):
        check_prompt(text, f"{name} prompt")
    clean = tokenizer(clean_prompt).input_ids
    corrupted = tokenizer(corrupted_prompt).input_ids
    if model is not None:
        check_prompt_length(model, max(len(clean), len(corrupted)))
    if clean == corrupted:
        raise ValueError("The clean and corrupted prompts tokenize identically: there is nothing "
                         "to patch. Change the corrupted prompt (e.g. swap the labels).")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids_a, ids_b, mask_a, mask_b, labels, differs = [], [], [], [], [], []
    matcher = difflib.SequenceMatcher(None, clean, corrupted, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = clean[i1:i2], corrupted[j1:j2]
        if op == "equal":
            ids_a += a; ids_b += b; mask_a += [1] * len(a); mask_b += [1] * len(b)
            labels += [readable_token(tokenizer, t) for t in a]
            differs += [False] * len(a)
            continue
        n = max(len(a), len(b))
        for k in range(n):
            ta = a[k] if k < len(a) else None
            tb = b[k] if k < len(b) else None
            ids_a.append(pad if ta is None else ta); mask_a.append(0 if ta is None else 1)
            ids_b.append(pad if tb is None else tb); mask_b.append(0 if tb is None else 1)
            text_a = PAD_LABEL if ta is None else readable_token(tokenizer, ta)
            text_b = PAD_LABEL if tb is None else readable_token(tokenizer, tb)
            labels.append(f"{text_a}/{text_b}")
            differs.append(True)
    if not (mask_a[-1] and mask_b[-1]):
        raise ValueError("One prompt has extra tokens at its end: the metric reads the last "
                         "position, so both prompts must end on a real token at the same place. "
                         "Make them differ earlier (e.g. in the demonstrations) and end alike.")
    device = input_device(model) if model is not None else torch.device("cpu")
    as_row = lambda xs: torch.tensor([xs], device=device)  # noqa: E731
    return AlignedPair(as_row(ids_a), as_row(ids_b), as_row(mask_a), as_row(mask_b), labels,
                       answer_token_id(tokenizer, clean_prompt, answer), differs)


# --------------------------------------------------------------------------------------------
# Caching the clean run
# --------------------------------------------------------------------------------------------
def _hidden_from_args(args, kwargs):
    return args[0] if args else kwargs["hidden_states"]


def _with_hidden(args, kwargs, hidden):
    if args:
        return (hidden, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": hidden}


def cache_activations(model, inputs: dict) -> dict[str, torch.Tensor]:
    """Run `inputs` (batch 1) once and keep every patchable activation (CPU-independent: each
    tensor stays on the device where its layer runs).

    Returns resid [L, S, d], z and q [L, S, H, dh], k and v [L, S, H_kv, dh],
    pattern [L, H, S, S] and logits [S, vocab].
    """
    n_layers, n_heads, head_dim = model_shape(model)
    store: dict[str, list] = {s: [None] * n_layers for s in SITES}

    def keep(site, layer, split_heads):
        def hook(module, args, output):
            x = output.detach()[0]
            store[site][layer] = x.view(x.shape[0], -1, head_dim) if split_heads else x
        return hook

    layers = range(n_layers)
    resid_hooks = {layer: (lambda m, a, k, layer=layer: store["resid"].__setitem__(
        layer, _hidden_from_args(a, k).detach()[0])) for layer in layers}
    z_hooks = {layer: (lambda m, a, layer=layer: store["z"].__setitem__(
        layer, a[0].detach()[0].view(a[0].shape[1], n_heads, head_dim))) for layer in layers}
    with contextlib.ExitStack() as stack, torch.no_grad():
        stack.enter_context(layer_pre_hooks(model, resid_hooks, with_kwargs=True))
        stack.enter_context(o_proj_pre_hooks(model, z_hooks))
        for site in ("q", "k", "v"):
            stack.enter_context(projection_hooks(
                model, f"{site}_proj", {layer: keep(site, layer, split_heads=True) for layer in layers}))
        out = model(**inputs, output_attentions=True)
    store["pattern"] = [a.detach()[0] for a in out.attentions]
    if any(a is None for a in store["pattern"]):
        raise ValueError("The model returned no attention weights: load it with "
                         "attn_implementation='eager' (utils.models.load_model does).")
    return ActivationCache(
        {**{s: torch.stack([t.to(store[s][0].device) for t in store[s]]) for s in SITES},
         "logits": out.logits.detach()[0]},
        input_ids=inputs["input_ids"].detach()[0].cpu())


class ActivationCache(dict):
    """The activations of one run (a dict site -> tensor) that remembers the ids it ran on,
    so that patching can refuse a cache made from another prompt pair."""

    def __init__(self, tensors: dict, input_ids: torch.Tensor):
        super().__init__(tensors)
        self.input_ids = input_ids   # [seq] on the CPU
        for tensor in tensors.values():
            # each tensor also remembers them: an exercise given cache["z"] alone can check it
            tensor.made_from = input_ids


def check_cache(pair: "AlignedPair", cache: dict) -> None:
    """The cache must come from one of `pair`'s runs (clean, or corrupted for noising): the same
    length, and the same ids where the cache knows them."""
    if "resid" not in cache:
        raise ValueError("This is not an activation cache: make one with "
                         "cache_activations(model, pair.clean_inputs()).")
    made_from = getattr(cache, "input_ids", None)
    same = (cache["resid"].shape[1] == pair.seq_len if made_from is None
            else any(torch.equal(made_from, ids[0].cpu())
                     for ids in (pair.clean_ids, pair.corrupted_ids)))
    if not same:
        raise ValueError("This cache belongs to another prompt pair (it was made from other "
                         "tokens): run cache_activations(model, pair.clean_inputs()) for this pair.")
    for site in SITES:      # a NaN patched in would make every later number NaN, silently
        if site in cache:
            check_finite(cache[site], f"cache[{site!r}]")


# --------------------------------------------------------------------------------------------
# Patching
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Patch:
    """Replace one activation by its clean value: `site` at `layer`, one `head` (per-head
    sites) and one `position` (None: every position that is real in both prompts)."""
    site: str
    layer: int
    head: int | None = None
    position: int | None = None


def _as_patches(entry) -> list:
    """A row of patches: None (unpatched), one Patch, or a tuple/list of Patches applied together."""
    if entry is None:
        return []
    return list(entry) if isinstance(entry, (list, tuple)) else [entry]


def _validate(model, patches: list, seq_len: int) -> None:
    n_layers = model_shape(model)[0]
    for p in [q for entry in patches for q in _as_patches(entry)]:
        _check_site(p.site)
        for name in ("layer", "head", "position"):       # 2.0 would index like 2, or crash
            value = getattr(p, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, Integral)):
                raise TypeError(f"A patch's {name} must be a whole number, got "
                                f"{type(value).__name__} {value!r}.")
        if not 0 <= p.layer < n_layers:
            raise ValueError(f"Layer {p.layer} does not exist: the model has {n_layers} layers "
                             f"(0 .. {n_layers - 1}).")
        if p.site in HEAD_SITES:
            n = site_heads(model, p.site)
            if p.head is None or not 0 <= p.head < n:
                raise ValueError(f"Site {p.site!r} needs a head in 0 .. {n - 1} (got {p.head}).")
        if p.position is not None and not 0 <= p.position < seq_len:
            raise ValueError(f"Position {p.position} is outside the prompt (0 .. {seq_len - 1}).")


@contextmanager
def patching_hooks(model, cache: dict, patches: list, all_positions: torch.Tensor):
    """Hooks that patch row i of the next forward pass with `patches[i]` (None: unpatched).

    all_positions: the positions a patch with position=None replaces (e.g. pair.valid_positions).
    """
    n_layers, n_heads, head_dim = model_shape(model)
    group = n_heads // n_kv_heads(model)
    by_layer_site: dict[tuple[int, str], list[tuple[int, Patch]]] = {}
    for row, entry in enumerate(patches):
        for p in _as_patches(entry):   # a row may hold several patches (heads patched together)
            by_layer_site.setdefault((p.layer, p.site), []).append((row, p))

    def where(p, device):
        return all_positions.to(device) if p.position is None else torch.tensor([p.position], device=device)

    def resid_hook(layer):
        def hook(module, args, kwargs):
            hidden = _hidden_from_args(args, kwargs).clone()
            for row, p in by_layer_site[(layer, "resid")]:
                pos = where(p, hidden.device)
                hidden[row, pos] = cache["resid"][layer][pos].to(hidden.dtype)
            return _with_hidden(args, kwargs, hidden)
        return hook

    def proj_hook(layer, site):   # q / k / v: outputs of the projections, heads split
        def hook(module, args, output):
            out = output.clone()
            heads = out.view(out.shape[0], out.shape[1], -1, head_dim)
            for row, p in by_layer_site[(layer, site)]:
                pos = where(p, out.device)
                heads[row, pos, p.head] = cache[site][layer][pos, p.head].to(out.dtype)
            return out
        return hook

    values: dict[int, torch.Tensor] = {}   # this run's value vectors, for pattern patches

    def value_keeper(layer):
        def hook(module, args, output):
            values[layer] = output.view(output.shape[0], output.shape[1], -1, head_dim)
        return hook

    def z_hook(layer):
        def hook(module, args):
            z = args[0].clone()
            heads = z.view(z.shape[0], z.shape[1], n_heads, head_dim)
            for row, p in by_layer_site.get((layer, "z"), []):
                pos = where(p, z.device)
                heads[row, pos, p.head] = cache["z"][layer][pos, p.head].to(z.dtype)
            for row, p in by_layer_site.get((layer, "pattern"), []):
                # a head's output is its pattern times its (key/value head's) values
                pos = where(p, z.device)
                pattern = cache["pattern"][layer][p.head][pos].to(z.device, z.dtype)   # [P, S]
                v = values[layer][row, :, p.head // group]                            # [S, dh]
                heads[row, pos, p.head] = pattern @ v
            return (z, *args[1:])
        return hook

    layers_with = lambda *wanted: [lay for lay in range(n_layers)   # noqa: E731
                                   if any((lay, site) in by_layer_site for site in wanted)]
    with contextlib.ExitStack() as stack:
        stack.enter_context(layer_pre_hooks(
            model, {lay: resid_hook(lay) for lay in layers_with("resid")}, with_kwargs=True))
        for site in ("q", "k", "v"):
            stack.enter_context(projection_hooks(
                model, f"{site}_proj", {lay: proj_hook(lay, site) for lay in layers_with(site)}))
        stack.enter_context(projection_hooks(
            model, "v_proj", {lay: value_keeper(lay) for lay in layers_with("pattern")}))
        stack.enter_context(o_proj_pre_hooks(
            model, {lay: z_hook(lay) for lay in layers_with("z", "pattern")}))
        yield


def run_with_patches(model, pair: AlignedPair, cache: dict, patches: list,
                     batch_size: int = 64, desc: str = "patching") -> torch.Tensor:
    """Last-position logits [len(patches), vocab] of the corrupted prompt, row i patched with
    patches[i] (None: unpatched; a tuple of Patches: all of them together), `batch_size` rows
    per forward pass."""
    check_cache(pair, cache)
    _validate(model, patches, pair.seq_len)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    # chunks of at most batch_size rows that never straddle a change of the lowest patched
    # layer: each chunk then skips every layer below its own patches
    firsts = [min((p.layer for p in _as_patches(entry)), default=0) for entry in patches]
    starts = []
    for i, first in enumerate(firsts):
        if not starts or first != firsts[i - 1] or i - starts[-1] >= batch_size:
            starts.append(i)
    out = []
    with torch.no_grad():
        # Layers below a chunk's lowest patched layer run as in the corrupted run, so each chunk
        # starts from the corrupted residual stream entering that layer (exact, and on average
        # half the layers for per-head patches)
        corrupted_resid = model(**pair.corrupted_inputs(), output_hidden_states=True,
                                logits_to_keep=1).hidden_states
        for start, end in progress(list(zip(starts, starts[1:] + [len(patches)])), desc=desc):
            chunk, first = patches[start:end], min(firsts[start:end])
            hidden = corrupted_resid[first].expand(len(chunk), -1, -1)
            # hooks first, then the shortened layer list: they hang on the layers themselves
            with patching_hooks(model, cache, chunk, pair.valid_positions):
                logits = _forward_from(model, pair, first, hidden)
            out.append(logits.float().cpu())
    return torch.cat(out)


def residual_patches(model, pair: AlignedPair) -> list:
    """One "resid" patch per (layer, position), layer-major; None where a prompt has a pad."""
    n_layers = model_shape(model)[0]
    valid = set(pair.valid_positions.tolist())
    return [Patch("resid", layer, position=pos) if pos in valid else None
            for layer in range(n_layers) for pos in range(pair.seq_len)]


def head_patches(model, site: str) -> list:
    """One patch per (layer, head) of `site` over every position, layer-major."""
    n_layers = model_shape(model)[0]
    return [Patch(site, layer, head=h) for layer in range(n_layers)
            for h in range(site_heads(model, site))]


def normalised_logprob(logits, answer_id, clean_logprob, corrupted_logprob):
    """logits [..., vocab] -> [...]: the answer's log-probability rescaled to 0 (corrupted) ..
    1 (clean). Notebook 05 uses the logit difference instead; this one serves the tests."""
    logprob = logits.float().log_softmax(dim=-1)[..., answer_id]
    return (logprob - corrupted_logprob) / (clean_logprob - corrupted_logprob)


def clean_and_corrupted_logprob(model, pair: AlignedPair) -> tuple[float, float]:
    """Log-probability of the answer at the last position in the clean and corrupted runs."""
    with torch.no_grad():
        clean = model(**pair.clean_inputs()).logits[0, -1].float().log_softmax(-1)
        corrupted = model(**pair.corrupted_inputs()).logits[0, -1].float().log_softmax(-1)
    return float(clean[pair.answer_id]), float(corrupted[pair.answer_id])


def patch_residual_batched(model, pair: AlignedPair, cache: dict, metric, batch_size: int = 32):
    """metric after patching the clean residual stream at each (layer, position): [L, S].

    The same numbers as one patched forward pass per (layer, position), computed with three
    exact shortcuts:
    - many patches per forward pass (a batch of corrupted copies, one patch per row);
    - a patch at (layer l, position p) leaves layers below l and positions before p as in the
      corrupted run: those come from the corrupted run's residual stream and key/value cache,
      so only layers l.. and positions p.. are computed;
    - where the clean and corrupted residual vectors are identical (the same token at layer 0,
      anything before the first differing token) the patch changes nothing and is not run.
    metric: last-position logits [n, vocab] -> [n]. Positions with a pad in either prompt
    stay NaN (there is no matching token to patch).
    """
    check_cache(pair, cache)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    n_layers = model_shape(model)[0]
    result = torch.full((n_layers, pair.seq_len), float("nan"))
    with torch.no_grad():
        corrupted_out = model(**{**pair.corrupted_inputs(), "use_cache": True})   # keys, values
        corrupted_resid = cache_activations(model, pair.corrupted_inputs())["resid"]
        unchanged = float(metric(corrupted_out.logits[:, -1].float().cpu())[0])
        chunks = []
        for layer in range(n_layers):
            todo = []
            for pos in pair.valid_positions.tolist():
                if torch.equal(cache["resid"][layer, pos].to(corrupted_resid.device),
                               corrupted_resid[layer, pos]):
                    result[layer, pos] = unchanged    # same vector: patching it is a no-op
                else:
                    todo.append(pos)
            chunks += [(layer, todo[i:i + batch_size]) for i in range(0, len(todo), batch_size)]
        for layer, positions in progress(chunks, desc="residual patching"):
            logits = _run_from(model, pair, layer, positions, cache["resid"][layer],
                               corrupted_resid[layer], corrupted_out.past_key_values)
            result[layer, positions] = metric(logits.float().cpu()).float()
    return result


def _run_from(model, pair, layer, positions, clean_resid, corrupted_resid, corrupted_kv):
    """Last-position logits [len(positions), vocab] of the corrupted run, row i with the residual
    stream entering `layer` patched at positions[i]; computes layers layer.. and positions
    min(positions).. only, the rest is taken from the corrupted run."""
    import copy

    batch, start = len(positions), min(positions)
    device = corrupted_resid.device
    hidden = corrupted_resid[start:].unsqueeze(0).repeat(batch, 1, 1)      # [B, S - start, d]
    rows, cols = torch.arange(batch, device=device), torch.tensor(positions, device=device)
    hidden[rows, cols - start] = clean_resid[cols].to(device, hidden.dtype)
    kv = None
    if start > 0:   # positions before `start` are exactly the corrupted run's: reuse their keys
        kv = copy.deepcopy(corrupted_kv)
        kv.crop(start)
        kv.batch_repeat_interleave(batch)
    return _forward_from(model, pair, layer, hidden, start, kv)


def _forward_from(model, pair, layer, hidden, start: int = 0, kv=None):
    """Last-position logits [B, vocab] of the corrupted prompt's positions start.. with
    `hidden` [B, S - start, d] as the residual stream entering `layer`; kv: the keys and values
    of positions ..start (needed when start > 0)."""
    batch, device = hidden.shape[0], hidden.device
    mask = pair.corrupted_mask
    positions_ids = (mask.long().cumsum(-1) - 1).clamp_min(0)[:, start:].to(device)
    # logits_to_keep=1: the unembedding runs for the last position only
    inputs = {"inputs_embeds": hidden, "position_ids": positions_ids.expand(batch, -1),
              "logits_to_keep": 1}
    if not bool(mask.all()):
        inputs["attention_mask"] = mask.expand(batch, -1).to(device)
    if start > 0:
        inputs.update(past_key_values=kv, use_cache=True,
                      cache_position=torch.arange(start, pair.seq_len, device=device))
    else:
        inputs["use_cache"] = False
    with layers_from(model, layer):
        return model(**inputs).logits[:, -1]


def patch_heads(model, pair: AlignedPair, cache: dict, site: str, metric, batch_size: int = 64):
    """metric after patching one head's `site` at every position: [L, heads of that site]."""
    if site not in HEAD_SITES:
        raise ValueError(f"Per-head patching works on {', '.join(HEAD_SITES)}, not {site!r} "
                         "(use patch_residual_batched for the residual stream).")
    n_layers = model_shape(model)[0]
    patches = head_patches(model, site)
    scores = metric(run_with_patches(model, pair, cache, patches, batch_size, f"{site} patching"))
    return scores.reshape(n_layers, site_heads(model, site))


# --------------------------------------------------------------------------------------------
# Figures (diverging colours on a fixed -1 .. 1 scale: 0 = corrupted, 1 = clean behaviour)
# --------------------------------------------------------------------------------------------
SITE_NAMES = {"resid": "residual stream", "z": "head output", "q": "query", "k": "key",
              "v": "value", "pattern": "attention pattern"}


def _extend(values) -> str:
    """Colour-bar arrows for values beyond the fixed -1 .. 1 scale ("neither" if none)."""
    finite = values[torch.isfinite(values)] if isinstance(values, torch.Tensor) else values
    low, high = bool((finite < -1).any()), bool((finite > 1).any())
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get((low, high), "both")


def plot_residual_patching(result: torch.Tensor, labels: list[str], title: str, differs=None):
    """Heatmap of [L, S] patching scores, one column per token (pads and NaN in grey).

    differs: optional [S] booleans, the positions where the prompts differ: their ticks are
    labelled in bold and marked with a triangle above the map. Other ticks are labelled at
    most every few positions so that they stay readable; values beyond -1 .. 1 get arrows on
    the colour bar.
    """
    import matplotlib
    from matplotlib.figure import Figure

    n_layers, seq_len = result.shape
    fig = Figure(figsize=(min(16.0, max(8.0, 0.09 * seq_len + 3)), 0.35 * n_layers + 3.0))
    ax = fig.subplots()
    cmap = matplotlib.colormaps[RELEVANCE_CMAP].with_extremes(bad="#d9d9d9")
    image = ax.imshow(result.numpy(), cmap=cmap, vmin=-1, vmax=1, aspect="auto",
                      interpolation="nearest")
    marked = [i for i, d in enumerate(differs or []) if d]
    step = max(1, seq_len // 40)
    ticks = sorted(set(range(0, seq_len, step)) | set(marked) | {seq_len - 1})
    # a bare '$' would start matplotlib's maths mode
    ax.set_xticks(ticks, [labels[i].replace("$", r"\$") for i in ticks], rotation=90, fontsize=7)
    for tick, i in zip(ax.get_xticklabels(), ticks):
        if i in marked:
            tick.set_fontweight("bold")
    if marked:
        # just above the map (x in data, y in axes units): the layer axis keeps its range
        ax.plot(marked, [1.0] * len(marked), ls="", marker="v", markersize=7, color="black",
                clip_on=False, transform=ax.get_xaxis_transform(), label="prompts differ here")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.02), fontsize=8, frameon=False)
    ax.set_yticks(range(n_layers))
    ax.set_xlabel(f"position (one token in {step} labelled, and every position where the "
                  "prompts differ, as 'clean/corrupted')" if step > 1 else
                  "position (token; 'clean/corrupted' where the prompts differ)")
    ax.set_ylabel("layer (residual stream entering it)")
    ax.set_title(title, loc="left", fontsize=10, pad=12)
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, extend=_extend(result),
                 label="recovered: 0 = corrupted, 1 = clean")
    fig.set_layout_engine("tight")
    return fig


def plot_head_patching(results: dict, title: str, label: str = "recovered: 0 = corrupted, 1 = clean"):
    """One layer x head heatmap per entry: results maps a site (or any panel title) -> [L, heads].
    White is 0; values beyond -1 .. 1 get arrows on the colour bar."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.1 * len(results) + 1.4, 3.9), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)
    for ax, (site, scores) in zip(axes[0], results.items()):
        image = ax.imshow(scores.numpy(), cmap=RELEVANCE_CMAP, vmin=-1, vmax=1, aspect="auto",
                          interpolation="nearest")
        ax.set_title(SITE_NAMES.get(site, site), fontsize=10)
        ax.set_xlabel("key/value head" if site in ("k", "v") else "head")
        ax.set_xticks(range(scores.shape[1]))
        ax.set_yticks(range(scores.shape[0]))
    axes[0][0].set_ylabel("layer")
    every = torch.cat([s.flatten() for s in results.values()])
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.03, pad=0.02, extend=_extend(every),
                 label=label)
    fig.suptitle(title, fontsize=11)
    return fig


def plot_effect_vs_relevance(effect: torch.Tensor, relevances: dict, rhos: dict, title: str,
                             n_labels: int = 5):
    """Scatter of each head's patching effect [L, H] against each relevance [L, H] (one panel
    per entry of `relevances`); the `n_labels` strongest heads of either score are named."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * len(relevances), 4.4), layout="constrained")
    axes = fig.subplots(1, len(relevances), squeeze=False)[0]
    n_heads = effect.shape[1]
    y = effect.flatten().numpy()
    layer_of = torch.arange(effect.numel()) // n_heads
    for ax, (name, relevance) in zip(axes, relevances.items()):
        x = relevance.flatten().numpy()
        points = ax.scatter(x, y, c=layer_of.numpy(), cmap="viridis", s=28, edgecolors="k",
                            linewidths=0.3)
        named = {i for i in effect.flatten().abs().argsort(descending=True)[:n_labels].tolist()}
        named |= {i for i in relevance.flatten().abs().argsort(descending=True)[:n_labels].tolist()}
        span_x, span_y = float(x.max() - x.min()) or 1.0, float(y.max() - y.min()) or 1.0
        placed = []
        for i in sorted(named, key=lambda i: (x[i], y[i])):
            # a label near an earlier one goes below its point, so the two do not overlap
            near = any(abs(x[i] - px) < 0.08 * span_x and abs(y[i] - py) < 0.05 * span_y
                       for px, py in placed)
            ax.annotate(f"L{i // n_heads}H{i % n_heads}", (x[i], y[i]), fontsize=7,
                        xytext=(3, -9) if near else (3, 3), textcoords="offset points")
            placed.append((x[i], y[i]))
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(0, color="grey", lw=0.6)
        ax.set_xlabel(f"{name} (LRP, clean prompt)")
        ax.set_ylabel("patching effect of the head's output")
        ax.set_title(f"{name}: Spearman rho = {float(rhos[name]):.2f}", fontsize=10)
    fig.colorbar(points, ax=axes.tolist(), label="layer")
    fig.suptitle(title)
    return fig
