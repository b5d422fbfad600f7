"""Governance: the hash-chained ledger, the privacy budget, evidence packs, certificates, the
release itself and alerts.
"""
