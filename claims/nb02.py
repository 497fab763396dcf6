"""Notebook 02's claims: which heads carry the prediction of the dust prompt, and how."""
from __future__ import annotations

from claims import Claim, Context, Verdict


def _maps(ctx: Context):
    """AttnLRP relevance maps [L, H, seq, seq] of the dust prompt for the model's top token."""
    def compute():
        import torch

        from solutions.attention_heads import attention_relevance
        from utils.lrp import attnlrp
        from utils.prompts import DUST_PROMPT
        from utils.tokens import encode
        ids = encode(ctx.tokenizer, DUST_PROMPT, ctx.model)
        with torch.no_grad():
            target = int(ctx.model(ids).logits[0, -1].argmax())
        with attnlrp(ctx.model):
            return attention_relevance(ctx.model, ids, target)
    return ctx.memo("nb02.maps", compute)


def _sparse(ctx: Context) -> Verdict:
    from utils.heads import relevance_concentration
    share, n_top = relevance_concentration(_maps(ctx).sum(dim=(-2, -1)), fraction=0.1)
    return Verdict(share >= 0.3, f"the top 10% of heads ({n_top}) hold {share:.0%} of the total "
                                 "|relevance|; an even spread would give 10%")


def _self_reading(ctx: Context) -> Verdict:
    from utils.heads import compare_head_views, self_reading_share
    maps = _maps(ctx)
    views = compare_head_views(maps.sum(dim=(-2, -1)), maps[:, :, -1, :].sum(-1), k=5)
    top = views["top all rows"]
    shares = self_reading_share(maps, top)
    readers = [(h, s) for h, s in zip(top, shares) if s > 0.5]
    dropped = [h for h, _ in readers if h not in views["top last row"]]
    return Verdict(bool(dropped), (
        f"{len(readers)} of the top 5 heads (all rows) put more than half of their |relevance| on "
        f"the diagonal ({', '.join(f'L{l}H{h} {s:.2f}' for (l, h), s in readers)}); "
        f"{len(dropped)} of them leave the top 5 of the last row"))


def _few_sink_heads(ctx: Context) -> Verdict:
    from utils.heads import first_token_relevance_share
    share = first_token_relevance_share(_maps(ctx), k=12)
    n = int((share > 0.5).sum())
    return Verdict(n <= 1, f"{n} of the 12 most relevant heads put more than half of their "
                           f"|relevance| on the first token (largest share {float(share.max()):.2f})")


CLAIMS = [
    Claim("02", "relevance-is-sparse",
          "Relevance is sparse: the top 10% of heads hold far more than 10% of it", _sparse),
    Claim("02", "self-reading-heads",
          "Some top heads of the all-rows view read their own token and drop out of the last-row "
          "view", _self_reading),
    Claim("02", "sinks-carry-little",
          "Among the most relevant heads, hardly any puts its relevance on the first token",
          _few_sink_heads),
]
