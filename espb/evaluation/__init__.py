"""Evaluation: summaries and figures of finished runs (paper Section 4)."""
