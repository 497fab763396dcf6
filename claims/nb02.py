"""Notebook 02's claims: which heads carry a prediction, and how, over many prompts."""
from __future__ import annotations

from claims import Claim, Context, Measurement, Threshold
from claims.items import passages
from utils.stats import mean_interval

N_PROMPTS = 20


def _maps(ctx: Context) -> list:
    """AttnLRP relevance maps [L, H, seq, seq] of each prompt, for the model's top token."""
    def compute():
        import torch

        from solutions.attention_heads import attention_relevance
        from utils.lrp import attnlrp
        from utils.tokens import encode
        maps = []
        for prompt in passages(ctx.n_items(N_PROMPTS)):
            ids = encode(ctx.tokenizer, prompt, ctx.model)
            with torch.no_grad():
                target = int(ctx.model(ids).logits[0, -1].argmax())
            with attnlrp(ctx.model):
                maps.append(attention_relevance(ctx.model, ids, target).detach())
        return maps
    return ctx.memo("nb02.maps", compute)


def _sparse(ctx: Context) -> Measurement:
    from utils.heads import relevance_concentration
    shares = [relevance_concentration(m.sum(dim=(-2, -1)), fraction=0.1)[0] for m in _maps(ctx)]
    return Measurement(mean_interval(shares), None, "share of |relevance| in the top 10 % heads",
                       "an even spread (0.10)")


def _self_reading(ctx: Context) -> Measurement:
    """Per prompt: 1 if a top-5 head (all rows) puts more than half of its |relevance| on the
    diagonal and is not in the top 5 of the last row."""
    from utils.heads import compare_head_views, self_reading_share
    found = []
    for maps in _maps(ctx):
        views = compare_head_views(maps.sum(dim=(-2, -1)), maps[:, :, -1, :].sum(-1), k=5)
        top = views["top all rows"]
        readers = [h for h, s in zip(top, self_reading_share(maps, top)) if s > 0.5]
        found.append(float(any(h not in views["top last row"] for h in readers)))
    return Measurement(mean_interval(found), None, "share of prompts with a self-reading head "
                       "that leaves the last-row view", "half of the prompts (0.5)")


def _few_sink_heads(ctx: Context) -> Measurement:
    from utils.heads import first_token_relevance_share
    counts = [float((first_token_relevance_share(m, k=12) > 0.5).sum()) for m in _maps(ctx)]
    return Measurement(mean_interval(counts), None, "sink heads among the 12 most relevant",
                       "one head (1)")


CLAIMS = [
    Claim("02", "relevance-is-sparse",
          "Relevance is sparse: the top 10% of heads hold far more than 10% of it", _sparse,
          Threshold("low", ">=", 0.3), "fixed reference: an even spread gives 0.10"),
    Claim("02", "self-reading-heads",
          "Some top heads of the all-rows view read their own token and drop out of the last-row "
          "view (on most prompts)", _self_reading, Threshold("low", ">", 0.5),
          "fixed reference: half of the prompts"),
    Claim("02", "sinks-carry-little",
          "Among the most relevant heads, hardly any puts its relevance on the first token",
          _few_sink_heads, Threshold("high", "<=", 1.0), "fixed reference: one head of 12"),
]
