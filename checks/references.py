"""The one road from the checks to the answer key: each exercise's reference, by name.

    reference("occlusion")      # solutions.input_attribution.occlusion

The names are those of the exercise functions; each maps to "module.function" in `solutions/`,
the same spelling an exercise cell's `solution` metadata uses (a test keeps the two equal).
"""
from __future__ import annotations

import importlib
from typing import Callable

REFERENCES = {
    # notebook 01
    "occlusion": "input_attribution.occlusion",
    "input_x_gradient": "input_attribution.input_x_gradient",
    "lrp_relevance": "input_attribution.lrp_relevance",
    "conservation_ratios": "input_attribution.conservation_ratios",
    # notebook 02
    "attention_relevance": "attention_heads.attention_relevance",
    "head_relevance": "attention_heads.head_relevance",
    "last_row_head_relevance": "attention_heads.last_row_head_relevance",
    # notebook 03
    "head_outputs_at_last": "function_vectors.head_outputs_at_last",
    "transplant_heads": "function_vectors.transplant_heads",
    "substring_token_positions": "function_vectors.substring_token_positions",
    "substring_head_scores": "function_vectors.substring_head_scores",
    "mean_head_outputs": "function_vectors.mean_head_outputs",
    "indirect_effects": "function_vectors.indirect_effects",
    "function_vector": "function_vectors.function_vector",
    # notebook 04
    "conflict_head_relevance": "knowledge_conflicts.conflict_head_relevance",
    "leave_one_out_accuracy": "knowledge_conflicts.leave_one_out_accuracy",
    # notebook 05
    "normalised_logit_diff": "activation_patching.normalised_logit_diff",
    "attribution_patching": "activation_patching.attribution_patching",
    "patch_head_output": "activation_patching.patch_head_output",
    "patch_residual_stream": "activation_patching.patch_residual_stream",
    "spearman": "activation_patching.spearman",
    # notebook 06
    "deletion_curve": "faithfulness.deletion_curve",
    "normalise_curve": "faithfulness.normalise_curve",
}


def reference(name: str) -> Callable:
    """The reference answer of exercise `name` (imported from `solutions` on first use)."""
    try:
        module_name, attr = REFERENCES[name].rsplit(".", 1)
    except KeyError:
        raise KeyError(f"No exercise called {name!r}: register it in checks/references.py "
                       f"(known: {', '.join(REFERENCES)}).") from None
    return getattr(importlib.import_module(f"solutions.{module_name}"), attr)
