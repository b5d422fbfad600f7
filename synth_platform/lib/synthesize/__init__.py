"""Synthesis and DP: the keyed train/holdout split, the synthesizers (dp_mst and its zCDP
accounting), and sampling into the warehouse in chunks.
"""
