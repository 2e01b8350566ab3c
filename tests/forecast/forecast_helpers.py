"""Shared by the forecast tests' fixtures and tests (a module: `conftest` is not importable
reliably when several test folders have one)."""

SALES_TABLES = ("feat_calendar", "feat_sales_daily", "feat_sales_store_daily")
