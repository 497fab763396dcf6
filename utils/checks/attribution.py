"""Checks for notebook 01 (input attribution)."""
import torch

from solutions import input_attribution as ref
from utils.checks.core import random_ids, run_check, tiny_llama


def _cases():
    model = tiny_llama(seed=1)
    return [((model, random_ids(seed, 9), 5 + seed), {"baseline_id": 0}) for seed in range(3)]


def check_occlusion(occlusion_fn):
    """Compare the learner's occlusion with the reference on a tiny model; returns the fn to use."""
    def unnormalised(model, input_ids, target_id, baseline_id, **_):
        with torch.no_grad():
            clean = model(input_ids).logits[0, -1, target_id]
            drops = []
            for i in range(input_ids.shape[1]):
                occluded = input_ids.clone()
                occluded[0, i] = baseline_id
                drops.append(clean - model(occluded).logits[0, -1, target_id])
        return torch.stack(drops)

    def argmax_target(model, input_ids, target_id, baseline_id, **kw):
        with torch.no_grad():
            top = int(model(input_ids).logits[0, -1].argmax())
        return ref.occlusion(model, input_ids, top, baseline_id)

    mistakes = {
        "the drops are not normalised (divide by the largest absolute drop)": unnormalised,
        "it explains the most likely token instead of `target_id`": argmax_target,
    }
    return run_check("occlusion", occlusion_fn, ref.occlusion, _cases(), mistakes)
