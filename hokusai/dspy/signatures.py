"""A library of reusable DSPy signatures, browsable by name and category.

``get_global_registry().list_signatures()`` lists them; ``get("EmailDraft")`` gives the
class. Each is a plain ``dspy.Signature``, usable in ``dspy.Predict`` or
``dspy.ChainOfThought`` and in a token spec (``program: {signature: EmailDraft}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hokusai.dspy.runtime import import_dspy

dspy = import_dspy()
In, Out = dspy.InputField, dspy.OutputField

# -- communication ---------------------------------------------------------------------------


class EmailDraft(dspy.Signature):
    """Draft an email to the recipient about the subject, in the requested tone."""

    recipient: str = In(desc="who the email is for")
    subject: str = In(desc="what the email is about")
    key_points: str = In(desc="points the email must make")
    tone: str = In(desc="e.g. formal, friendly")
    email: str = Out(desc="the email body")


class RespondToUser(dspy.Signature):
    """Answer the user's message helpfully and politely, using the context when given."""

    message: str = In()
    context: str = In(desc="relevant facts; may be empty")
    response: str = Out()


class ReplyToEmail(dspy.Signature):
    """Write a reply to the email that addresses every question it asks."""

    email: str = In()
    intent: str = In(desc="what the reply should achieve")
    reply: str = Out()


class RewriteTone(dspy.Signature):
    """Rewrite the text in the target tone without changing its meaning."""

    text: str = In()
    tone: str = In()
    rewritten: str = Out()


class MeetingNotes(dspy.Signature):
    """Turn a meeting transcript into notes: decisions and action items."""

    transcript: str = In()
    decisions: str = Out()
    action_items: str = Out()


# -- text ------------------------------------------------------------------------------------


class SummarizeText(dspy.Signature):
    """Summarize the text in a few sentences, keeping its key facts."""

    text: str = In()
    summary: str = Out()


class ClassifyText(dspy.Signature):
    """Give the text's label (one of the labels the task defines)."""

    text: str = In()
    label: str = Out()


class ClassifyTopic(dspy.Signature):
    """Give the topic of the text."""

    text: str = In()
    topic: str = Out(desc="one word, e.g. sports, business, science, politics")


class SentimentAnalysis(dspy.Signature):
    """Give the sentiment of the text: positive, negative or neutral."""

    text: str = In()
    sentiment: str = Out()


class ExtractKeywords(dspy.Signature):
    """List the text's key words and phrases, comma-separated."""

    text: str = In()
    keywords: str = Out()


class ExtractEntities(dspy.Signature):
    """List the people, organisations and places the text names."""

    text: str = In()
    entities: str = Out(desc="comma-separated")


class TranslateText(dspy.Signature):
    """Translate the text into the target language."""

    text: str = In()
    target_language: str = In()
    translation: str = Out()


class ParaphraseText(dspy.Signature):
    """Say the same thing in other words."""

    text: str = In()
    paraphrase: str = Out()


class GenerateTitle(dspy.Signature):
    """Give the text a short, informative title."""

    text: str = In()
    title: str = Out()


class DetectLanguage(dspy.Signature):
    """Name the language the text is written in."""

    text: str = In()
    language: str = Out()


# -- question answering and reasoning ---------------------------------------------------------


class AnswerQuestion(dspy.Signature):
    """Answer the question briefly."""

    question: str = In()
    answer: str = Out()


class ContextualQA(dspy.Signature):
    """Answer the question from the context only; say 'unknown' when it does not tell."""

    context: str = In()
    question: str = In()
    answer: str = Out()


class FactCheck(dspy.Signature):
    """Say whether the claim is supported by the evidence: supported, refuted or not enough info."""

    claim: str = In()
    evidence: str = In()
    verdict: str = Out()


class CompareOptions(dspy.Signature):
    """Compare the options against the criteria and recommend one."""

    options: str = In()
    criteria: str = In()
    recommendation: str = Out()
    rationale: str = Out()


class GenerateQueries(dspy.Signature):
    """Write search queries that would find the information the question needs."""

    question: str = In()
    queries: str = Out(desc="one per line")


# -- code and data -----------------------------------------------------------------------------


class ExplainCode(dspy.Signature):
    """Explain what the code does, for a reader who knows the language."""

    code: str = In()
    explanation: str = Out()


class GenerateSQL(dspy.Signature):
    """Write a SQL query over the schema that answers the question."""

    table_schema: str = In()
    question: str = In()
    sql: str = Out()


class ExtractStructuredData(dspy.Signature):
    """Extract the requested fields from the text as JSON."""

    text: str = In()
    wanted_fields: str = In(desc="the field names wanted")
    extracted_json: str = Out()


# -- support ---------------------------------------------------------------------------------


class RouteTicket(dspy.Signature):
    """Route the support ticket to the team that should handle it."""

    ticket: str = In()
    team: str = Out()


class TicketPriority(dspy.Signature):
    """Give the support ticket's priority: low, medium, high or urgent."""

    ticket: str = In()
    priority: str = Out()


CATEGORIES: dict[str, tuple[type, ...]] = {
    "communication": (EmailDraft, RespondToUser, ReplyToEmail, RewriteTone, MeetingNotes),
    "text": (SummarizeText, ClassifyText, ClassifyTopic, SentimentAnalysis, ExtractKeywords, ExtractEntities,
             TranslateText, ParaphraseText, GenerateTitle, DetectLanguage),
    "reasoning": (AnswerQuestion, ContextualQA, FactCheck, CompareOptions, GenerateQueries),
    "code_and_data": (ExplainCode, GenerateSQL, ExtractStructuredData),
    "support": (RouteTicket, TicketPriority),
}


__all__ = [signature.__name__ for group in CATEGORIES.values() for signature in group] + [
    "CATEGORIES", "SignatureInfo", "SignatureRegistry", "get_global_registry"]


@dataclass(frozen=True)
class SignatureInfo:
    name: str
    category: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "category": self.category, "description": self.description,
                "inputs": list(self.inputs), "outputs": list(self.outputs)}


class SignatureRegistry:
    """Signatures by name; a program's own may be added (``register``)."""

    def __init__(self) -> None:
        self._signatures: dict[str, tuple[type, str]] = {}

    def register(self, signature: type, category: str = "custom", name: str | None = None) -> None:
        if not (isinstance(signature, type) and issubclass(signature, dspy.Signature)):
            raise TypeError(f"{signature!r} is not a dspy.Signature class")
        name = name or signature.__name__
        if name in self._signatures and self._signatures[name][0] is not signature:
            raise ValueError(f"a different signature is already registered as {name!r}")
        self._signatures[name] = (signature, category)

    def get(self, name: str) -> type:
        if name not in self._signatures:
            raise KeyError(f"no signature named {name!r}; known: {', '.join(sorted(self._signatures))}")
        return self._signatures[name][0]

    def __contains__(self, name: str) -> bool:
        return name in self._signatures

    def info(self, name: str) -> SignatureInfo:
        signature, category = self._signatures[name]
        return SignatureInfo(name, category, (signature.__doc__ or "").strip(), tuple(signature.input_fields),
                             tuple(signature.output_fields))

    def list_signatures(self, category: str | None = None) -> list[str]:
        """Signature names, sorted (of one category if given)."""
        return sorted(n for n, (_, c) in self._signatures.items() if category is None or c == category)

    def categories(self) -> list[str]:
        return sorted({c for _, c in self._signatures.values()})


def get_global_registry() -> SignatureRegistry:
    """The process-wide registry, holding the library above."""
    if _GLOBAL is None:
        _build()
    return _GLOBAL  # type: ignore[return-value]


_GLOBAL: SignatureRegistry | None = None


def _build() -> None:
    global _GLOBAL
    registry = SignatureRegistry()
    for category, signatures in CATEGORIES.items():
        for signature in signatures:
            registry.register(signature, category)
    _GLOBAL = registry
