"""Whether a learner's hook writes into the tensor a module receives (`args[0]`) in place.

A forward pre-hook may return new arguments; editing `args[0]` itself gives the same logits in
a plain forward pass, so an output comparison cannot see it. But that tensor belongs to the
model's forward pass: autograd may have saved it, and the module's other readers (a residual
connection, another hook) see the edit. The recorder below registers its own pre-hook *first*
on each module, keeps the tensor it receives and a copy, and compares the two after the run.
"""
from __future__ import annotations

from typing import Callable

import torch


def edited_module_input(modules: dict[str, torch.nn.Module], run: Callable[[], object]) -> str | None:
    """Call `run()` while watching the first input of every module in `modules` (name -> module).

    Returns the name of the first module whose received tensor was changed during the run (by
    a hook that ran after the recorder), else None. The recorder's hooks are removed on exit,
    also when `run` raises.
    """
    seen: list[tuple[str, torch.Tensor, torch.Tensor]] = []

    def recorder(name):
        def hook(module, args):
            if args and isinstance(args[0], torch.Tensor):
                seen.append((name, args[0], args[0].detach().clone()))
        return hook

    # prepend: the recorder runs before any hook the learner registers, whenever that happens
    handles = [module.register_forward_pre_hook(recorder(name), prepend=True)
               for name, module in modules.items()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    for name, received, copy in seen:
        if not torch.equal(received.detach(), copy):
            return name
    return None


def in_place_message(module_name: str, copy_line: str) -> str:
    """The sentence a check prints when a hook wrote into `module_name`'s input in place."""
    return (f"writes into the tensor its hook receives (`args[0]` of {module_name}) in place. "
            "The logits come out the same here, but that tensor belongs to the model's forward "
            "pass (autograd and the module's other readers see the edit): edit a copy, "
            f"`{copy_line}`, and return it.")
