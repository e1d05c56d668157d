"""DSPy programs as Hokusai models: loader, executor, signature library, and the token model.

Importing this package imports DSPy (with LiteLLM's cost map kept local and DSPy's
cache off, its folder under the state folder): the scikit-learn path never imports it.
"""

from hokusai.dspy.lms import build_lm
from hokusai.dspy.runtime import LMConfig, import_dspy, lm_config_from

import_dspy()

from hokusai.dspy.executor import DSPyInputError, DSPyPipelineExecutor  # noqa: E402
from hokusai.dspy.loader import DSPyLoadError, DSPyModelLoader, LoadedProgram  # noqa: E402
from hokusai.dspy.local_lm import NearestDemoLM  # noqa: E402
from hokusai.dspy import signatures as _signatures  # noqa: E402
from hokusai.dspy.signatures import CATEGORIES, SignatureRegistry, get_global_registry  # noqa: E402

# the library's signatures by name: from hokusai.dspy import EmailDraft, SummarizeText, ...
globals().update({name: getattr(_signatures, name) for name in _signatures.__all__})

__all__ = ["DSPyInputError", "DSPyLoadError", "DSPyModelLoader", "DSPyPipelineExecutor", "LMConfig",
           "LoadedProgram", "NearestDemoLM", "build_lm", "import_dspy", "lm_config_from", *_signatures.__all__]
