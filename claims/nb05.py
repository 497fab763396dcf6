"""Notebook 05's claims: what patching the sentiment prompts shows on the loaded model.

Each is decided on every review the model gets right on the clean run (with a clean-corrupted
gap); the notebook shows the first of them. A claim holds when it holds on all of them.
"""
from __future__ import annotations

from claims import Claim, Context, Verdict


def _studies(ctx: Context) -> list[dict]:
    def compute():
        import torch

        from utils.lrp import attnlrp
        from utils.patching import cache_activations, patch_heads
        from solutions.activation_patching import attribution_patching
        from utils.patching_analysis import (label_positions, noising_heads,
                                             normalised_metric, sentiment_pairs, usable)
        from solutions.attention_heads import head_relevance

        kept, _ = usable(sentiment_pairs(ctx.model, ctx.tokenizer))
        studies = []
        for item in kept:
            pair, metric = item["pair"], normalised_metric(item)
            cache = cache_activations(ctx.model, pair.clean_inputs())
            with attnlrp(ctx.model):
                lrp = head_relevance(ctx.model, pair.clean_ids, item["answer_id"], foil_id=item["foil_id"])
            studies.append(dict(
                item=item, pair=pair, cache=cache, metric=metric,
                every=patch_heads(ctx.model, pair, cache, "z", metric),
                labels=patch_heads(ctx.model, pair.subset(label_positions(pair)), cache, "z", metric),
                last=patch_heads(ctx.model, pair.subset([pair.seq_len - 1]), cache, "z", metric),
                noise=noising_heads(ctx.model, pair, metric),
                approx=attribution_patching(ctx.model, pair, cache, metric),
                lrp=lrp.detach().float() if isinstance(lrp, torch.Tensor) else lrp))
        if not studies:
            raise ValueError("the model gets no review right on the clean run with a gap to recover")
        return studies
    return ctx.memo("nb05.studies", compute)


def _all(ctx: Context, decide) -> Verdict:
    results = [decide(s) for s in _studies(ctx)]
    return Verdict(all(h for h, _ in results),
                   "; ".join(sentence for _, sentence in results) + f" ({len(results)} review(s))")


def _noising(ctx):
    from utils.patching_analysis import noising_verdict
    return _all(ctx, lambda s: noising_verdict(s["every"], s["noise"]))


def _layer0(ctx):
    from utils.patching_analysis import position_verdict
    return _all(ctx, lambda s: position_verdict(s["every"], s["labels"], s["last"], s["cache"], s["pair"]))


def _together(ctx):
    from utils.patching_analysis import heads_together, together_verdict, top_heads

    def decide(s):
        carriers = top_heads(s["last"], 3)
        together = heads_together(ctx.model, s["pair"], s["cache"], carriers, s["metric"],
                                  positions=[s["pair"].seq_len - 1])
        return together_verdict(together, s["last"], carriers)
    return _all(ctx, decide)


def _attribution(ctx):
    from utils.patching_analysis import agreement_verdict
    return _all(ctx, lambda s: agreement_verdict("attribution patching", s["approx"], s["every"]))


def _lrp_weaker(ctx):
    from utils.patching_analysis import spearman_rho

    def decide(s):
        ap, lrp = spearman_rho(s["approx"], s["every"]), spearman_rho(s["lrp"], s["every"])
        return lrp < ap, (f"Spearman with activation patching: contrastive LRP {lrp:+.2f}, "
                          f"attribution patching {ap:+.2f}")
    return _all(ctx, decide)


CLAIMS = [
    Claim("05", "noising-agrees", "Denoising and noising agree on the top heads (at least 2 of "
          "the top 3 shared)", _noising),
    Claim("05", "layer0-rewrites-label", "The strongest layer-0 head acts at the label positions: "
          "patched there alone it restores at least 80% of its effect, at the last position "
          "almost none", _layer0),
    Claim("05", "carriers-together", "The three strongest last-position heads, patched together "
          "at the last position, restore at least 0.8 of the behaviour", _together),
    Claim("05", "attribution-patching-agrees", "Attribution patching ranks the heads like "
          "activation patching (Spearman at least 0.5)", _attribution),
    Claim("05", "lrp-agrees-less", "Contrastive LRP head relevance agrees with activation "
          "patching less than attribution patching does", _lrp_weaker),
]
