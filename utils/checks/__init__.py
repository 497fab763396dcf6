"""One `check_<exercise>(fn)` per exercise: `occlusion = check_occlusion(occlusion)`.

Each check prints one line (success, or what differs) and returns the function to use next.
"""
from utils.checks.attribution import *  # noqa: F401,F403
from utils.checks.conflicts import *  # noqa: F401,F403
from utils.checks.faithfulness import *  # noqa: F401,F403
from utils.checks.function_vectors import *  # noqa: F401,F403
from utils.checks.heads import *  # noqa: F401,F403
from utils.checks.patching import *  # noqa: F401,F403
