"""Helpers of the extensions (not extensions themselves) and the Discord side of the job
engine."""
