"""PII discovery: every column classified with evidence (detectors, name dictionaries), and the
reviewed masking plan that decides what reaches a model.
"""
