"""A DSPy program as a token's model: compiled on labelled examples, scored like an estimator.

``compile_token_program(frame, spec, seed)`` compiles the spec's program with its optimizer
on the rows (the champion's examples + the contribution's new ones) and returns a
``DSPyTokenModel``: ``predict`` / ``predict_proba`` / ``classes_`` as scikit-learn's, so the
benchmark, the paired bootstrap, the seed-robust rule, DeltaOne, the attestation and
the registry treat it as they treat a scikit-learn model.

Seeds: the rows are put in canonical order (by content) and then shuffled with
``random.Random(seed)``; the shuffle is the order of the demonstrations in the prompt.
The optimizers are deterministic given that order (LabeledFewShot samples with its own
fixed ``Random(0)``). The local LM ignores demo order, so its seeded fits are identical
and the seed level of the bootstrap adds nothing; a real LM, sensitive to order, gets its
order randomness counted.

A call that fails (the LM errors, or its answer cannot be parsed) is never scored 0 in
silence, as ``dspy.Evaluate`` does up to ``max_errors``: ``predict`` raises
``DSPyEvaluationError`` with the count.

The saved state is ``program.json`` (DSPy's JSON state: demos and instructions, not a
pickle), the program's source (``program_source.py``, or the signature in
``hokusai_dspy.json``) and that metadata file: the model's commitment covers exactly these.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hokusai.dspy.lms import build_lm
from hokusai.dspy.runtime import LMConfig, import_dspy, lm_config_from
from hokusai.tokens.dspy_spec import ALL, DSPyProgramSpec

STATE_FILE = "program.json"
SOURCE_FILE = "program_source.py"
META_FILE = "hokusai_dspy.json"
FLAVOR = "dspy"
_ANSWERS: dict[tuple[str, tuple[str, ...]], tuple[str, dict]] = {}  # (order-free program key, inputs) -> answer
_ANSWERS_LIMIT = 200_000


class DSPyEvaluationError(RuntimeError):
    """Program calls failed during scoring; the evaluation stops rather than count them as wrong."""


def build_program(program: DSPyProgramSpec, input_fields: list[str], output_field: str,
                  source_text: str | None = None) -> Any:
    """A fresh (uncompiled) program: a ``dspy.Predict`` of the signature, or the source's class."""
    dspy = import_dspy()
    if program.source_path is None:
        from hokusai.dspy.signatures import get_global_registry

        registry = get_global_registry()
        signature = registry.get(program.signature) if program.signature in registry else program.signature
        return dspy.Predict(signature)
    from hokusai.dspy.loader import import_class, instantiate

    if source_text is None:
        path = program.source_path
    else:  # a saved model's own copy of its source, not whatever the file holds now
        digest = hashlib.sha256(source_text.encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"hokusai-dspy-program-{digest}.py"
        if not path.exists():  # written whole, then renamed: another process may import it meanwhile
            with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp",
                                             delete=False) as staged:
                staged.write(source_text)
            os.replace(staged.name, path)
    return instantiate(import_class(path, program.class_name), {})


def examples_from(frame: pd.DataFrame, input_fields: list[str], output_field: str, seed: int) -> list[Any]:
    """The rows as ``dspy.Example``s: canonical order (by content), then shuffled with ``seed``."""
    dspy = import_dspy()
    rows = sorted(zip(*(frame[name].astype(str).tolist() for name in [*input_fields, output_field])))
    random.Random(seed).shuffle(rows)
    return [dspy.Example(**dict(zip([*input_fields, output_field], row))).with_inputs(*input_fields) for row in rows]


def optimizer_for(program: DSPyProgramSpec, trainset_size: int, output_field: str) -> Any:
    """The spec's optimizer; ``k`` (or ``max_labeled_demos``) of ``all`` covers every training example."""
    dspy = import_dspy()
    params = {key: (trainset_size if value == ALL else value) for key, value in program.optimizer_params.items()}
    if program.optimizer == "LabeledFewShot":
        k = params.get("k", trainset_size)
        if k < trainset_size:
            raise ValueError(f"LabeledFewShot k={k} is below the {trainset_size} training examples: the demos "
                             f"would be a sample and a contribution's examples could be left out (use k: all)")
        return dspy.LabeledFewShot(k=k)

    def exact(example, prediction, trace=None):
        return str(getattr(prediction, output_field, "")).strip() == str(example[output_field]).strip()

    params.setdefault("max_labeled_demos", trainset_size)
    params.setdefault("max_bootstrapped_demos", 4)
    return dspy.BootstrapFewShot(metric=exact, **params)


class DSPyTokenModel:
    """A compiled program with the estimator surface the evaluation uses."""

    hokusai_flavor = FLAVOR

    def __init__(self, program: Any, spec_program: DSPyProgramSpec, input_fields: list[str], output_field: str,
                 label_values: tuple[Any, ...], source_text: str | None = None, lm_config: LMConfig | None = None):
        self.program = program
        self.spec_program = spec_program
        self.input_fields = list(input_fields)
        self.output_field = output_field
        self.classes_ = np.array(label_values, dtype=object)
        self.source_text = source_text
        self.lm_config = lm_config
        self.usage: dict[str, dict[str, int]] = {}
        self.calls = 0  # LM calls made; memo_hits: answers reused (an order-invariant LM)
        self.memo_hits = 0
        self.last_usage: dict[str, dict[str, int]] = {}  # of the last predict: one dev-set pass
        self._lm = None
        self._last: tuple[str, np.ndarray] | None = None

    # -- scoring ---------------------------------------------------------------------------
    def lm(self) -> Any:
        if self._lm is None:
            if self.lm_config is None:
                from hokusai.settings import load_settings

                self.lm_config = lm_config_from(load_settings(), self.spec_program.lm_model)
            self._lm = build_lm(self.lm_config)
        return self._lm

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The program's answer for each row of inputs (columns in ``input_fields`` order)."""
        key = hashlib.sha256(json.dumps(np.asarray(features, dtype=object).tolist(), default=str).encode()).hexdigest()
        if self._last is not None and self._last[0] == key:  # predict_proba after predict: no second pass
            return self._last[1].copy()
        from hokusai.dspy.executor import add_usage

        dspy = import_dspy()
        lm = self.lm()
        program_key = self._order_free_key(lm)
        answers, failures, usage = [], [], {}
        with dspy.context(lm=lm, track_usage=True):
            for index, row in enumerate(np.asarray(features, dtype=object)):
                inputs = dict(zip(self.input_fields, map(str, row)))
                memo_key = program_key and (program_key, tuple(inputs.values()))
                if memo_key and memo_key in _ANSWERS:
                    answer, used = _ANSWERS[memo_key]
                    answers.append(answer)
                    add_usage(usage, used)  # what the call costs, reused or not: usage is the same warm or cold
                    self.memo_hits += 1
                    continue
                try:
                    prediction = self.program(**inputs)
                    answers.append(str(getattr(prediction, self.output_field)).strip())
                    used = add_usage({}, prediction.get_lm_usage() or {})
                    add_usage(usage, used)
                    self.calls += 1
                except Exception as error:  # counted, then raised below: never a silent 0
                    failures.append(f"row {index}: {type(error).__name__}: {error}")
                    answers.append(None)
                    continue
                if memo_key:
                    if len(_ANSWERS) >= _ANSWERS_LIMIT:
                        _ANSWERS.clear()
                    _ANSWERS[memo_key] = (answers[-1], used)
        self.last_usage = usage
        add_usage(self.usage, usage)
        if failures:
            raise DSPyEvaluationError(f"{len(failures)} of {len(answers)} program calls failed; first: {failures[0]}")
        labels = {str(v): v for v in self.classes_}
        predicted = np.array([labels.get(a, a) for a in answers], dtype=object)
        self._last = (key, predicted)
        return predicted.copy()

    def _order_free_key(self, lm: Any) -> str | None:
        """For an LM whose answer ignores demo order (``order_invariant``, deterministic): a key of the
        program's instructions and demos as a multiset. Seeded compiles differ only in demo order,
        so the local LM answers each question once per distinct program, not once per seed."""
        if not getattr(lm, "order_invariant", False):
            return None
        parts = []
        for predictor in self.program.predictors():
            demos = sorted(json.dumps(dict(demo.items()) if hasattr(demo, "items") else demo, sort_keys=True,
                                      default=str) for demo in predictor.demos)
            parts.append([str(predictor.signature.instructions), list(predictor.signature.fields), demos])
        return hashlib.sha256(json.dumps([getattr(lm, "model", ""), parts], default=str).encode()).hexdigest()

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """One-hot over ``classes_``; an answer outside them (``unknown``): uniform, still a distribution."""
        predicted = self.predict(features)
        uniform = [1.0 / len(self.classes_)] * len(self.classes_)
        return np.array([[1.0 if p == c else 0.0 for c in self.classes_] if p in self.classes_ else uniform
                         for p in predicted])

    # -- state -------------------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        """Write program.json (DSPy's JSON state), the source and the metadata; the folder is returned."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.program.save(str(folder / STATE_FILE))
        state = json.loads((folder / STATE_FILE).read_text())
        (folder / STATE_FILE).write_text(json.dumps(state, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
        if self.source_text is not None:
            (folder / SOURCE_FILE).write_text(self.source_text)
        meta = {"flavor": FLAVOR, "program": self.spec_program.as_dict(), "signature": self.spec_program.signature,
                "class_name": self.spec_program.class_name, "input_fields": self.input_fields,
                "output_field": self.output_field, "label_values": [str(v) for v in self.classes_]}
        (folder / META_FILE).write_text(json.dumps(meta, sort_keys=True, indent=1) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path) -> "DSPyTokenModel":
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        source = (folder / SOURCE_FILE).read_text() if (folder / SOURCE_FILE).exists() else None
        info = meta["program"]
        spec_program = DSPyProgramSpec(
            signature=meta["signature"], source_path=Path(info["program"].split(":")[0]) if source else None,
            class_name=meta["class_name"], optimizer=info["optimizer"], optimizer_params=info["optimizer_params"],
            metric=info["metric"], lm_model=info["lm"])
        program = build_program(spec_program, meta["input_fields"], meta["output_field"], source)
        program.load(str(folder / STATE_FILE))
        return cls(program, spec_program, meta["input_fields"], meta["output_field"], tuple(meta["label_values"]),
                   source)

    def state_commitment(self) -> str:
        """SHA-256 over the canonical saved files (what the registry's Merkle commitment also covers)."""
        with tempfile.TemporaryDirectory(prefix="hokusai-dspy-") as scratch:
            folder = self.save(Path(scratch))
            digest = hashlib.sha256()
            for path in sorted(folder.iterdir()):
                digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
            return digest.hexdigest()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (Dagster's IO manager) as its saved files, never as a pickle of the program."""
        with tempfile.TemporaryDirectory(prefix="hokusai-dspy-") as scratch:
            folder = self.save(Path(scratch))
            return {"files": {p.name: p.read_text() for p in folder.iterdir()},
                    "lm_config": self.lm_config, "usage": self.usage, "calls": self.calls}

    def __setstate__(self, state: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="hokusai-dspy-") as scratch:
            for name, text in state["files"].items():
                (Path(scratch) / name).write_text(text)
            loaded = DSPyTokenModel.load(Path(scratch))
        self.__dict__.update(loaded.__dict__)
        self.lm_config, self.usage, self.calls = state["lm_config"], state["usage"], state["calls"]


def evaluation_record(baseline: DSPyTokenModel, candidate: DSPyTokenModel) -> dict[str, Any]:
    """What the attestation says about a DSPy evaluation: the program, the LM and its settings (never a
    key), and the token usage of each model's pass over the dev set."""
    from importlib.metadata import version

    return {"program": candidate.spec_program.as_dict(), "lm": candidate.lm_config.as_dict(),
            "dspy_version": version("dspy"), "usage": {"baseline": baseline.last_usage,
                                                       "candidate": candidate.last_usage}}


def compile_token_program(frame: pd.DataFrame, spec: Any, seed: int | None = None) -> DSPyTokenModel:
    """The spec's program compiled with its optimizer on ``frame``'s examples (``seed``: the spec's)."""
    program_spec: DSPyProgramSpec = spec.dspy
    inputs = [f.name for f in spec.features]
    check_examples(frame, inputs, spec.label_column)
    source_text = program_spec.source_path.read_text() if program_spec.source_path else None
    student = build_program(program_spec, inputs, spec.label_column, source_text)
    trainset = examples_from(frame, inputs, spec.label_column, spec.seed if seed is None else seed)
    model = DSPyTokenModel(None, program_spec, inputs, spec.label_column, spec.label_values, source_text)
    optimizer = optimizer_for(program_spec, len(trainset), spec.label_column)
    dspy = import_dspy()
    with dspy.context(lm=model.lm()):
        model.program = optimizer.compile(student, trainset=trainset)
    return model


def check_examples(frame: pd.DataFrame, inputs: list[str], output: str) -> None:
    """Labelled examples: every input and the output present and non-empty text."""
    missing = [name for name in [*inputs, output] if name not in frame.columns]
    if missing:
        raise ValueError(f"examples lack the fields {missing}")
    for name in [*inputs, output]:
        values = frame[name]
        empty = int((values.isna() | (values.astype(str).str.strip() == "")).sum())
        if empty:
            raise ValueError(f"{empty} example(s) have an empty '{name}'")
