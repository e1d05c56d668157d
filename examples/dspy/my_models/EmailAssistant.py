"""An email assistant: drafts an email with the library's ``EmailDraft`` signature."""

import dspy

from hokusai.dspy import EmailDraft


class EmailAssistant(dspy.Module):
    def __init__(self, signatures=None):
        super().__init__()
        self.draft = dspy.Predict((signatures or {}).get("EmailDraft", EmailDraft))

    def forward(self, recipient, subject, key_points, tone="friendly"):
        return self.draft(recipient=recipient, subject=subject, key_points=key_points, tone=tone)
