"""Storage: the DuckDB warehouse, landing-file ingest, zones, private files, run leases and the
platform key.
"""
