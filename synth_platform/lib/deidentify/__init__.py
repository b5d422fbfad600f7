"""Masking and refill: direct identifiers never reach a model (pseudonyms, drops), and come back
in the synthetic table as fakes drawn from reserved spaces.
"""
