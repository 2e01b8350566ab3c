"""Ingest: extracts in landing/<source>/ -> raw layer -> validation -> clean tables (work in progress).

Public interface (used by dags/ingest_extracts.py):
- DIMENSION_SOURCES: ingested before facts, so referential checks see the latest dimensions.
- pending_sources(home=None, settle_seconds=60) -> list[str]: sources with a ready file, dimensions first.
- ingest_source(source, *, home=None, engine=None, run_id=None, run_url=None, settle_seconds=60)
  -> SourceResult (to_dict() is JSON-able; .changed_tables names the clean tables written).
"""
