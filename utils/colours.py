"""The course's one colour convention: a source or a method keeps its colour in every figure.

Sources (where information comes from): context blue, memory red, as the monitor colours
tokens and as the diverging relevance map runs (blue against, red for).
Methods: one colour each, in every notebook's curves, bars and legends.
Maps: signed relevance on RELEVANCE_CMAP (blue against, white 0, red for), attention weights
on ATTENTION_CMAP (white 0 to black 1). Groups without a meaning of their own (clusters, kinds
of heads) cycle GROUPS, which avoids the blue and red of sources and signs.
"""
CONTEXT = "#2166ac"     # copied from the prompt (in-context)
MEMORY = "#b2182b"      # from the weights (parametric)
NEUTRAL = "#7f7f7f"     # controls: random orders, random heads, no intervention

# Signed relevance: the ends of RELEVANCE_CMAP, for bars and lines that carry a sign.
SUPPORTS = "#b2182b"    # for the explained output
OPPOSES = "#2166ac"     # against it
RELEVANCE_CMAP = "RdBu_r"     # blue below zero, white at zero, red above
ATTENTION_CMAP = "Greys"      # attention weights in [0, 1]: white to black
ATTENTION = "#252525"         # the dark end of ATTENTION_CMAP, for pages drawn without matplotlib

# Clusters and kinds of heads: categorical colours that are neither a source nor a sign.
GROUPS = ["#17becf", "#ff7f0e", "#bcbd22", "#8c564b", "#e377c2", "#2ca02c", "#393b79",
          "#bd9e39", "#6b6ecf", "#843c39"]

METHODS = {
    "occlusion": "#1b9e77",
    "gradient": "#66a61e",
    "Input x Gradient": "#7570b3",
    "|Input x Gradient|": "#b3aee0",
    "LRP": "#d95f02",
    "CP-LRP": "#e7298a",
    "activation patching": "#a6761d",
    "attribution patching": "#e6ab02",
    "random": NEUTRAL,
    "function vector": "#984ea3",
    "indirect effect": "#a6761d",
}
# Controls of an intervention: grey shades, never a method's colour.
CONTROLS = {
    "no vector": NEUTRAL,
    "random heads": "#bdbdbd",
    "another task's vector": "#404040",
}


def method_colour(name: str) -> str:
    """The colour of a method (see METHODS); unknown names get a clear error."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"No colour for method {name!r}: add it to utils/colours.py "
                       f"(known: {', '.join(METHODS)}).") from None
