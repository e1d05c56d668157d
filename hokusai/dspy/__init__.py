"""DSPy programs as Hokusai models: loader, executor, signature library, and the token model.

Importing this package imports DSPy (with LiteLLM's cost map kept local and DSPy's
cache off unless a cache folder is given): the scikit-learn path never imports it.
"""

from hokusai.dspy.runtime import LMConfig, build_lm, import_dspy, lm_config_from

import_dspy()

from hokusai.dspy.executor import DSPyInputError, DSPyPipelineExecutor  # noqa: E402
from hokusai.dspy.loader import DSPyLoadError, DSPyModelLoader, LoadedProgram  # noqa: E402
from hokusai.dspy.local_lm import NearestDemoLM  # noqa: E402
from hokusai.dspy.signatures import *  # noqa: E402,F401,F403
from hokusai.dspy.signatures import CATEGORIES, SignatureRegistry, get_global_registry  # noqa: E402

__all__ = ["DSPyInputError", "DSPyLoadError", "DSPyModelLoader", "DSPyPipelineExecutor", "LMConfig",
           "LoadedProgram", "NearestDemoLM", "SignatureRegistry", "build_lm", "get_global_registry",
           "import_dspy", "lm_config_from", *[s.__name__ for group in CATEGORIES.values() for s in group]]
