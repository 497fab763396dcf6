"""One `check_<exercise>(fn)` per exercise: `occlusion = check_occlusion(occlusion)`.

The checks sit above both `utils` (the library) and `solutions` (the answer key): they compare a
learner's function with the reference that `checks.references.reference(name)` returns.

Each check prints one line (success, or what differs) and returns the function to use next.
"""
from checks.attribution import *  # noqa: F401,F403
from checks.conflicts import *  # noqa: F401,F403
from checks.faithfulness import *  # noqa: F401,F403
from checks.function_vectors import *  # noqa: F401,F403
from checks.heads import *  # noqa: F401,F403
from checks.patching import *  # noqa: F401,F403
