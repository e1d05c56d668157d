"""The ``dspy:`` section of a token spec: a DSPy program as a token's model (no DSPy import).

```yaml
dspy:
  program: {signature: "text -> topic"}          # or {signature: ClassifyTopic} (the library)
  # program: {source: programs/topics.py, class_name: TopicClassifier}
  optimizer: {name: LabeledFewShot, params: {k: all}}
  metric: exact_match
  lm: hokusai-local/nearest-demo                  # HOKUSAI_DSPY_MODEL overrides it
```

The token's string features are the program's inputs and its label column the output;
the primary metric is accuracy of the exact match. ``k`` is ``all`` by default: a ``k``
below the training examples would sample them, and the contribution's gain with them
(measured: +1900 bps became +200 at k=16; docs/dspy.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPTIMIZERS = ("LabeledFewShot", "BootstrapFewShot")
OPTIMIZER_PARAMS = {"LabeledFewShot": {"k"},
                    "BootstrapFewShot": {"max_labeled_demos", "max_bootstrapped_demos", "max_rounds"}}
METRICS = ("exact_match",)
LOCAL_MODEL = "hokusai-local/nearest-demo"
ALL = "all"


@dataclass(frozen=True)
class DSPyProgramSpec:
    """A token's DSPy program, optimizer, metric and LM."""

    signature: str | None = None  # "text -> topic" or a library name
    source_path: Path | None = None  # a Python file (relative to the spec's folder when read)
    class_name: str | None = None
    optimizer: str = "LabeledFewShot"
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    metric: str = "exact_match"
    lm_model: str = LOCAL_MODEL

    def program_ref(self) -> str:
        return f"{self.source_path.name}:{self.class_name}" if self.source_path else f"signature:{self.signature}"

    def as_dict(self) -> dict[str, Any]:
        return {"program": self.program_ref(), "optimizer": self.optimizer,
                "optimizer_params": dict(sorted(self.optimizer_params.items())), "metric": self.metric,
                "lm": self.lm_model}


def parse_dspy_section(raw: Any, base_dir: Path, problems: list[str]) -> DSPyProgramSpec | None:
    """The section as a ``DSPyProgramSpec``; each problem is appended to ``problems`` with its path."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"dspy: expected a mapping, got {type(raw).__name__}")
        return None
    program = raw.get("program")
    signature = source = class_name = None
    if not isinstance(program, dict):
        problems.append("dspy.program: required: {signature: ...} or {source: file.py, class_name: ...}")
    elif "signature" in program:
        signature = program["signature"]
        if not isinstance(signature, str) or not signature.strip():
            problems.append(f"dspy.program.signature: expected text, got {signature!r}")
    elif isinstance(program.get("source"), str) and isinstance(program.get("class_name"), str):
        source, class_name = base_dir / program["source"], program["class_name"]
        # a spec names code to run: only a file in the tokens folder (reviewed with the spec), not anywhere
        if not source.resolve().is_relative_to(Path(base_dir).resolve()):
            problems.append(f"dspy.program.source: must be inside the tokens folder {base_dir}, "
                            f"got {program['source']}")
        elif not source.is_file():
            problems.append(f"dspy.program.source: file not found: {source}")
    else:
        problems.append("dspy.program: give either 'signature' or both 'source' and 'class_name'")
    optimizer = raw.get("optimizer") or {}
    name = optimizer.get("name", "LabeledFewShot") if isinstance(optimizer, dict) else None
    params = optimizer.get("params") or {} if isinstance(optimizer, dict) else {}
    if name not in OPTIMIZERS:
        problems.append(f"dspy.optimizer.name: must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    elif not isinstance(params, dict) or set(params) - OPTIMIZER_PARAMS[name]:
        allowed = ", ".join(sorted(OPTIMIZER_PARAMS[name]))
        problems.append(f"dspy.optimizer.params: {name} takes {allowed}, got {params!r}")
    else:
        for key, value in params.items():
            if value != ALL and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                problems.append(f"dspy.optimizer.params.{key}: expected a count or 'all', got {value!r}")
    metric = raw.get("metric", "exact_match")
    if metric not in METRICS:
        problems.append(f"dspy.metric: must be one of {', '.join(METRICS)}, got {metric!r}")
    lm = raw.get("lm", LOCAL_MODEL)
    if not isinstance(lm, str) or not lm:
        problems.append(f"dspy.lm: expected a model name, got {lm!r}")
    return DSPyProgramSpec(signature, source, class_name, name if name in OPTIMIZERS else "LabeledFewShot",
                           dict(params) if isinstance(params, dict) else {}, metric,
                           lm if isinstance(lm, str) else LOCAL_MODEL)
