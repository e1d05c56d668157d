"""A deterministic local LM whose answer depends on the demonstrations in its prompt.

It answers with the output fields of the demonstration whose inputs are most similar
to the question's (cosine of word counts; ties go to the demonstration whose text
sorts first, so the answer does not depend on the order of the demos). Better or
more covering examples therefore genuinely raise a dev score, and mislabelled ones
lower it: what a contribution to a DSPy token needs to be measured offline.

It speaks DSPy's ChatAdapter format (``[[ ## field ## ]]`` sections), as a real LM
prompted by DSPy would. DSPy 3.4's ``BaseLM.forward`` interface is used: 3.5 removes it
(pyproject pins 3.4.x).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from types import SimpleNamespace
from typing import Any

from hokusai.dspy.runtime import LOCAL_MODEL, import_dspy

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\Z)", re.S)
_OUTPUT_FIELDS = re.compile(r"Your output fields are:\n(.*?)(?:\n\n|\Z)", re.S)
_FIELD_NAME = re.compile(r"^\d+\. `(\w+)`", re.M)
_INSTRUCTION = "\n\nRespond with the corresponding output fields"
_WORD = re.compile(r"[a-z0-9]+")


def fields_of(text: str) -> dict[str, str]:
    """The ``[[ ## name ## ]]`` sections of a message, in order (``completed`` and the adapter's
    closing instruction left out)."""
    text = text.split(_INSTRUCTION)[0]
    return {name: value.strip() for name, value in _FIELD.findall(text) if name != "completed"}


def _bag(text: str) -> Counter:
    return Counter(_WORD.findall(text.lower()))


def similarity(left: Counter, right: Counter) -> float:
    """Cosine similarity of two word-count bags (0 when either is empty)."""
    if not left or not right:
        return 0.0
    dot = sum(count * right[word] for word, count in left.items())
    return dot / math.sqrt(sum(v * v for v in left.values()) * sum(v * v for v in right.values()))


def nearest_demo_answer(messages: list[dict[str, str]]) -> dict[str, str]:
    """The output fields for the last user message, copied from the most similar demonstration."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    listed = _OUTPUT_FIELDS.search(system)
    outputs = _FIELD_NAME.findall(listed.group(1)) if listed else []
    turns = [m for m in messages if m["role"] != "system"]
    question = fields_of(turns[-1]["content"]) if turns else {}
    asked = _bag(" ".join(question.values()))
    best: tuple[float, str, dict[str, str]] | None = None
    for user, assistant in zip(turns[:-1:2], turns[1:-1:2]):
        if user["role"] != "user" or assistant["role"] != "assistant":
            continue
        shown, answered = fields_of(user["content"]), fields_of(assistant["content"])
        if not answered:
            continue
        text = " ".join(shown.values()) + "\0" + "\0".join(answered.values())  # ties: by text, then answer
        score = similarity(asked, _bag(" ".join(shown.values())))
        if best is None or score > best[0] or (score == best[0] and text < best[1]):
            best = (score, text, answered)
    answer = best[2] if best else {}
    return {name: answer.get(name, "unknown") for name in (outputs or list(answer))}


class NearestDemoLM:  # built lazily: dspy is imported only when a DSPy token runs
    def __new__(cls, *args: Any, **kwargs: Any):
        return _lm_class()(*args, **kwargs)


def _lm_class() -> type:
    if "class" in _CLASS:
        return _CLASS["class"]
    dspy = import_dspy()
    import warnings

    # the forward() interface is deprecated in 3.4 (removed in 3.5, hence the pin): say it once, in the docs
    warnings.filterwarnings("ignore", message="Implementing custom LMs through BaseLM.forward",
                            category=DeprecationWarning)

    class _NearestDemoLM(dspy.BaseLM):
        """``NearestDemoLM()``: deterministic, offline, no weights; usage counted in words."""

        order_invariant = True  # the answer is a function of the demos as a set (ties broken by text)

        def __init__(self, model: str = LOCAL_MODEL, **kwargs: Any):
            super().__init__(model=model, model_type="chat", temperature=0.0, max_tokens=1000, cache=False,
                             **kwargs)

        def forward(self, prompt=None, messages=None, **kwargs):
            """An OpenAI-shaped response, as DSPy 3.4's legacy LM interface expects."""
            messages = messages or [{"role": "user", "content": prompt or ""}]
            answer = nearest_demo_answer(messages)
            content = "\n\n".join(f"[[ ## {name} ## ]]\n{value}" for name, value in answer.items())
            content += "\n\n[[ ## completed ## ]]"
            prompt_tokens = sum(len(m.get("content", "").split()) for m in messages)
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                     "total_tokens": prompt_tokens + len(content.split())}
            return SimpleNamespace(
                model=self.model, usage=usage, _hidden_params={},
                choices=[SimpleNamespace(message=SimpleNamespace(content=content, tool_calls=None,
                                                                 reasoning_content=None),
                                         finish_reason="stop", logprobs=None)],
            )

        async def aforward(self, prompt=None, messages=None, **kwargs):
            return self.forward(prompt=prompt, messages=messages, **kwargs)

    _NearestDemoLM.__name__ = _NearestDemoLM.__qualname__ = "NearestDemoLM"
    _NearestDemoLM.__module__ = __name__
    _CLASS["class"] = _NearestDemoLM
    return _NearestDemoLM


_CLASS: dict[str, type] = {}
