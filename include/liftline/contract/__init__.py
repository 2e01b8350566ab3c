"""The extract contract (CONTRACT.md) as data: every source, its columns, types and natural key.

Ingest, validation, the warehouse's clean tables and the synthetic world all read this one
definition, so a column added here is added everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CRM_STAGES",
    "DATE",
    "EXTRACT_SUFFIXES",
    "FLOAT",
    "INT",
    "SOURCES",
    "STRING",
    "TIMESTAMP",
    "Source",
    "source",
]

# Logical column types. The warehouse maps them to SQL types; ingest parses to them.
STRING, DATE, TIMESTAMP, FLOAT, INT = "string", "date", "timestamp", "float", "int"

CRM_STAGES = (
    "Prospecting",
    "Qualification",
    "Proposal",
    "Negotiation",
    "Closed Won",
    "Closed Lost",
)

EXTRACT_SUFFIXES = (".csv", ".csv.gz", ".parquet")


@dataclass(frozen=True)
class Source:
    """One extract source: what a delivery of it must and may contain."""

    name: str
    grain: str
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    natural_key: tuple[str, ...] = ()
    # Sources whose indicator columns are free-form (macro): any numeric extra column is data.
    open_numeric_columns: bool = False
    # Additive to contract v1: the longest expected gap between two deliveries, in days. The
    # monitor raises `stale_source` when a source that has delivered before has been silent for
    # longer. None: delivered when it changes (dimensions, calendars), never judged stale.
    expected_every_days: int | None = None

    @property
    def columns(self) -> dict[str, str]:
        return {**self.required, **self.optional}


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            "pos",
            "store x SKU x day",
            {"date": DATE, "store_id": STRING, "sku": STRING, "revenue": FLOAT},
            # Additive to contract v1: units are optional (a till system that keeps turnover
            # but no quantities); such stores are forecast in revenue only.
            {"units": FLOAT, "unit_price": FLOAT, "promo_id": STRING, "customer_count": INT},
            ("date", "store_id", "sku"),
            expected_every_days=2,
        ),
        Source(
            "promotions",
            "one promotion, past or planned",
            {"promo_id": STRING, "start_date": DATE, "end_date": DATE, "discount_pct": FLOAT},
            {
                "sku": STRING,
                "category": STRING,
                "store_id": STRING,
                "region": STRING,
                "promo_type": STRING,
                "cost": FLOAT,
                "status": STRING,
            },
            ("promo_id",),
            expected_every_days=30,
        ),
        Source(
            "spend",
            "day x campaign",
            {"date": DATE, "campaign_id": STRING, "channel": STRING, "spend": FLOAT},
            {"country": STRING, "impressions": FLOAT, "clicks": FLOAT, "video_views": FLOAT},
            ("date", "campaign_id"),
            expected_every_days=2,
        ),
        Source(
            "crm",
            "one opportunity",
            {"opportunity_id": STRING, "created_date": DATE, "stage": STRING, "amount": FLOAT},
            {
                "campaign_id": STRING,
                "account_id": STRING,
                "close_date": DATE,
                "country": STRING,
                "product_category": STRING,
            },
            ("opportunity_id",),
            expected_every_days=2,
        ),
        Source(
            "erp",
            "one invoice",
            {"invoice_id": STRING, "invoice_date": DATE, "amount": FLOAT},
            {
                "customer_id": STRING,
                "opportunity_id": STRING,
                "country": STRING,
                "product_category": STRING,
                "sku": STRING,
                "quantity": FLOAT,
                # Additive to contract v1: days the delivery arrived after its promised date.
                "days_late": FLOAT,
            },
            ("invoice_id",),
            expected_every_days=2,
        ),
        Source(
            "stores",
            "store",
            {"store_id": STRING},
            {"region": STRING, "country": STRING, "format": STRING, "opened_date": DATE},
            ("store_id",),
        ),
        Source(
            "products",
            "SKU",
            {"sku": STRING, "category": STRING},
            {"segment": STRING, "division": STRING, "unit_cost": FLOAT, "list_price": FLOAT},
            ("sku",),
        ),
        Source(
            "customers",
            "customer",
            {"customer_id": STRING},
            {
                "age": FLOAT,
                "gender": STRING,
                "income": FLOAT,
                "region": STRING,
                "country": STRING,
                "marital_status": STRING,
                "signup_date": DATE,
            },
            ("customer_id",),
        ),
        Source(
            "service",
            "one service interaction",
            {
                "interaction_id": STRING,
                "customer_id": STRING,
                "opened_at": TIMESTAMP,
                "interaction_type": STRING,
            },
            {
                "channel": STRING,
                "closed_at": TIMESTAMP,
                "satisfaction_rating": FLOAT,
                "resolution_status": STRING,
            },
            ("interaction_id",),
            expected_every_days=2,
        ),
        Source(
            "events",
            "holiday / event / closure",
            {"date": DATE, "name": STRING},
            {"kind": STRING, "country": STRING, "region": STRING, "store_id": STRING},
            ("date", "name", "country", "region", "store_id"),
        ),
        Source(
            "macro",
            "day or week x country",
            {"date": DATE, "country": STRING},
            {"economic_index": FLOAT, "inflation_rate": FLOAT, "unemployment_rate": FLOAT},
            ("date", "country"),
            open_numeric_columns=True,
            expected_every_days=10,
        ),
        Source(
            "inventory",
            "store x SKU x day",
            {"date": DATE, "store_id": STRING, "sku": STRING, "on_hand": FLOAT},
            {"on_order": FLOAT},
            ("date", "store_id", "sku"),
            expected_every_days=2,
        ),
        Source(
            "lift_tests",
            "one experiment result",
            {
                "channel": STRING,
                "start_date": DATE,
                "end_date": DATE,
                "incremental_revenue": FLOAT,
            },
            # Additive to contract v1: measured_until, the last day the experiment counted
            # revenue (a post-period after the channel came back measures its carry-over).
            {"spend": FLOAT, "std_error": FLOAT, "country": STRING, "measured_until": DATE},
            ("channel", "start_date", "end_date", "country"),
        ),
    ]
}


def source(name: str) -> Source:
    """The source called `name`, or a one-line error listing the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise ValueError(f"unknown source {name!r}: expected one of {known}") from None
