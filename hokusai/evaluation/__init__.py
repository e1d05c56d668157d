"""Scoring and verdicts: benchmark metrics, significance, DeltaOne and eligibility."""
