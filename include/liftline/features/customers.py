"""Customer features: a point-in-time snapshot per customer, and one row per service interaction.

`feat_customer` holds one snapshot (partition) per as-of date: recency, frequency and monetary
value, tenure, product breadth, spend trend, CRM engagement, service history and demographics,
from facts dated on or before that date. An incremental build replaces the as-of partition and
keeps the others as history for point-in-time training; a full build recomputes every partition
the table holds plus the as-of one, so both paths give the same table.

`feat_service_interaction` holds one row per interaction opened on or before the as-of date, with
what was known when it opened (earlier contacts, ratings of interactions closed before it, the
customer's invoices in the 30 days before) and its label once closed. A close or a rating after
the as-of date is not known yet: the interaction counts as open. A fact dated d only reaches
rows opened on or after d (an invoice on day d reaches rows opened in (d, d+30]; an interaction
reaches itself and the customer's later ones), so rebuilding the rows opened from the earliest
date a delivery touched redoes everything it can change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, and_, case, distinct, exists, func, or_, select

from liftline.warehouse import clean_table, exact_sum, read_frame, replace_partition, table

from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .sql import day_number, rewrite

YEAR_DAYS = 365  # frequency, monetary value, breadth and delays look back one year
TREND_DAYS = 90  # spend trend: the last 90 days against the 90 before
ORDER_WINDOW_DAYS = 30  # an interaction sees the invoices of the 30 days before it opened
REPEAT_WINDOW = pd.Timedelta(days=30)
LOW_RATING = 2  # a rating at or below this is a dissatisfied customer
WON_STAGE = "closed won"
DEMOGRAPHICS = ("age", "gender", "income", "region", "country", "marital_status")
UNUSABLE = {"erp": "no erp invoice names a customer", "crm": "no crm delivered",
            "service": "no service delivered"}
ORDER_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "product_breadth",
                  "spend_trend", "mean_days_late")


# --- feat_customer ---------------------------------------------------------------------------


def build_customer(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    """Write the as-of snapshot (full build: every snapshot held, plus the as-of one)."""
    usable = _usable_sources(conn)
    _log_left_out(ctx, "feat_customer", usable, {
        "erp": "order and CRM features",
        "crm": "crm_opportunities and crm_won",
        "service": "service history",
    })
    target = table("feat_customer")
    as_of_dates = {ctx.as_of}
    if changes.full:
        held = conn.execute(select(target.c.as_of_date).distinct()).scalars()
        as_of_dates |= {pd.Timestamp(value).date() for value in held}
    dimension = _customer_dimension(conn)
    rows = 0
    for as_of in sorted(as_of_dates):
        frame = customer_snapshot(conn, dimension, as_of, usable)
        rows += replace_partition(conn, target, frame.assign(run_id=ctx.run_id),
                                  {"as_of_date": as_of})
    if not changes.full:
        return BuildOutcome(target.name, "incremental", rows, f"snapshot as of {ctx.as_of}")
    first, last = min(as_of_dates), max(as_of_dates)
    span = f"as of {first}" if first == last else f"as of {first} to {last}"
    return BuildOutcome(target.name, "full", rows, f"{len(as_of_dates)} snapshot(s) {span}")


def customer_snapshot(
    conn: Connection, dimension: pd.DataFrame, as_of: date, usable: set[str]
) -> pd.DataFrame:
    """One row per customer known on `as_of`, from facts dated on or before it."""
    orders = _order_stats(conn, as_of) if "erp" in usable else None
    signed_up = dimension.signup_date.isna() | (dimension.signup_date <= pd.Timestamp(as_of))
    ids = dimension.customer_id[signed_up]
    if orders is not None:  # a customer who bought is known, whatever the dimension says
        ids = pd.concat([ids, orders.customer_id])
    frame = pd.DataFrame({"customer_id": ids.drop_duplicates().sort_values().to_numpy()})
    frame = frame.merge(dimension, on="customer_id", how="left")
    frame = _with_orders(frame, orders, as_of)
    crm = _crm_stats(conn, as_of) if {"erp", "crm"} <= usable else None
    frame = _with_counts(frame, crm, ("crm_opportunities", "crm_won"))
    service = _service_stats(conn, as_of) if "service" in usable else None
    frame = _with_counts(frame, service, ("service_contacts",), ("service_mean_rating",
                                                                 "service_low_share"))
    return frame[_columns("feat_customer", exclude=("as_of_date", "run_id"))]


def _customer_dimension(conn: Connection) -> pd.DataFrame:
    customers = clean_table("customers")
    return read_frame(conn, select(customers.c.customer_id, customers.c.signup_date,
                                   *(customers.c[name] for name in DEMOGRAPHICS)))


def _order_stats(conn: Connection, as_of: date) -> pd.DataFrame:
    """Per customer with an invoice on or before `as_of`: first and last order, and the year's
    count, value, spend by quarter, categories and delays.

    Two aggregates, not one: only the first and last date need the whole history, so the
    year's sums (and PostgreSQL's sort for COUNT(DISTINCT)) see only the year's invoices.
    """
    erp = clean_table("erp")
    day = erp.c.invoice_date
    known = and_(erp.c.customer_id.is_not(None), day <= as_of)
    span = (select(erp.c.customer_id, func.min(day).label("first_order"),
                   func.max(day).label("last_order"))
            .where(known).group_by(erp.c.customer_id))
    last_90 = day > as_of - timedelta(days=TREND_DAYS)
    prior_90 = and_(day > as_of - timedelta(days=2 * TREND_DAYS), ~last_90)
    year = (
        select(
            erp.c.customer_id,
            func.count().label("frequency"),
            exact_sum(erp.c.amount).label("monetary"),
            exact_sum(case((last_90, erp.c.amount))).label("spend_last_90"),
            exact_sum(case((prior_90, erp.c.amount))).label("spend_prior_90"),
            func.count(distinct(erp.c.product_category)).label("breadth"),
            func.count(erp.c.product_category).label("categorised"),
            func.avg(erp.c.days_late).label("mean_days_late"),
        )
        .where(known, day > as_of - timedelta(days=YEAR_DAYS))
        .group_by(erp.c.customer_id)
    )
    stats = read_frame(conn, span).merge(read_frame(conn, year), on="customer_id", how="left")
    return _numeric(stats, exclude=("customer_id", "first_order", "last_order"))


def _with_orders(frame: pd.DataFrame, orders: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    as_of_ts = pd.Timestamp(as_of)
    signup = frame.signup_date.where(frame.signup_date <= as_of_ts)
    if orders is None:
        return frame.assign(tenure_days=_days(as_of_ts - signup),
                            **{name: np.nan for name in ORDER_FEATURES})
    frame = frame.merge(orders, on="customer_id", how="left")
    frequency = frame.frequency.fillna(0.0)
    monetary = frame.monetary.fillna(0.0)
    prior = frame.spend_prior_90.fillna(0.0)
    # Breadth is unknown (not 0) for a buyer whose invoices name no category.
    breadth = frame.breadth.fillna(0).where((frame.categorised > 0) | (frequency == 0))
    return frame.assign(
        recency_days=_days(as_of_ts - frame.last_order),
        frequency=frequency,
        monetary=monetary,
        avg_order_value=(monetary / frequency).where(frequency > 0),
        tenure_days=_days(as_of_ts - pd.concat([signup, frame.first_order], axis=1).min(axis=1)),
        product_breadth=breadth,
        spend_trend=(frame.spend_last_90.fillna(0.0) / prior - 1).where(prior > 0),
    )


def _crm_stats(conn: Connection, as_of: date) -> pd.DataFrame:
    """Opportunities behind each customer's invoices, and those won by `as_of`.

    CRM knows accounts, not customers: the link is the invoice's opportunity_id. The stage is
    the latest delivered; a won deal counts once its close_date has passed (an invoice for it
    is evidence enough when CRM gives no close_date).
    """
    erp, crm = clean_table("erp"), clean_table("crm")
    won = and_(func.lower(func.trim(crm.c.stage)) == WON_STAGE,
               or_(crm.c.close_date.is_(None), crm.c.close_date <= as_of))
    query = (
        select(
            erp.c.customer_id,
            func.count(distinct(crm.c.opportunity_id)).label("crm_opportunities"),
            func.count(distinct(case((won, crm.c.opportunity_id)))).label("crm_won"),
        )
        .select_from(erp.join(crm, crm.c.opportunity_id == erp.c.opportunity_id))
        .where(erp.c.customer_id.is_not(None), erp.c.invoice_date <= as_of,
               or_(crm.c.created_date.is_(None), crm.c.created_date <= as_of))
        .group_by(erp.c.customer_id)
    )
    return _numeric(read_frame(conn, query), exclude=("customer_id",))


def _service_stats(conn: Connection, as_of: date) -> pd.DataFrame:
    """Contacts opened by `as_of`, and the ratings of those closed by then."""
    service = clean_table("service")
    end = _day_end(as_of)
    rated = and_(service.c.closed_at < end, service.c.satisfaction_rating.is_not(None))
    query = (
        select(
            service.c.customer_id,
            func.count().label("service_contacts"),
            func.avg(case((rated, service.c.satisfaction_rating))).label("service_mean_rating"),
            func.avg(case((and_(rated, service.c.satisfaction_rating <= LOW_RATING), 1.0),
                          (rated, 0.0))).label("service_low_share"),
        )
        .where(service.c.opened_at < end)
        .group_by(service.c.customer_id)
    )
    return _numeric(read_frame(conn, query), exclude=("customer_id",))


def _with_counts(
    frame: pd.DataFrame,
    stats: pd.DataFrame | None,
    counts: tuple[str, ...],
    values: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Join per-customer stats: counts are 0 for a customer without any, NULL without the source."""
    if stats is None:
        return frame.assign(**{name: np.nan for name in counts + values})
    frame = frame.merge(stats, on="customer_id", how="left")
    return frame.assign(**{name: frame[name].fillna(0) for name in counts})


# --- point-in-time reads for the customer models ------------------------------------------


def customer_snapshot_at(bind: Engine | Connection, as_of: date) -> pd.DataFrame:
    """The feat_customer row of every customer as it would read on `as_of` (computed, not
    stored): the customer models' backtests need snapshots at dates no build has written."""
    with _connected(bind) as conn:
        return customer_snapshot(conn, _customer_dimension(conn), as_of, _usable_sources(conn))


def customer_purchases(bind: Engine | Connection, as_of: date) -> pd.DataFrame:
    """Per customer with an invoice on or before `as_of`, over their whole history: first and
    last purchase date, purchase days (distinct invoice dates), invoices and their amount.

    The feat_customer figures look back one year; repeat-purchase models need all of it.
    """
    erp = clean_table("erp")
    day = erp.c.invoice_date
    query = (select(erp.c.customer_id, func.min(day).label("first_purchase"),
                    func.max(day).label("last_purchase"),
                    func.count(distinct(day)).label("purchase_days"),
                    func.count().label("invoices"), exact_sum(erp.c.amount).label("revenue"))
             .where(erp.c.customer_id.is_not(None), day <= as_of)
             .group_by(erp.c.customer_id))
    frame = read_frame(bind, query)
    return _numeric(frame, exclude=("customer_id", "first_purchase", "last_purchase"))


def customer_revenue(bind: Engine | Connection, start: date, end: date) -> pd.DataFrame:
    """Per customer with an invoice dated in (`start`, `end`]: its revenue and invoices."""
    erp = clean_table("erp")
    day = erp.c.invoice_date
    query = (select(erp.c.customer_id, exact_sum(erp.c.amount).label("revenue"),
                    func.count().label("invoices"))
             .where(erp.c.customer_id.is_not(None), day > start, day <= end)
             .group_by(erp.c.customer_id))
    return _numeric(read_frame(bind, query), exclude=("customer_id",))


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.connect() as conn:
        yield conn


# --- feat_service_interaction ----------------------------------------------------------------


def build_service_interaction(
    conn: Connection, ctx: BuildContext, changes: Changes
) -> BuildOutcome:
    """Rebuild the interactions opened from the earliest date a change can reach (all if full)."""
    has_erp = "erp" in _usable_sources(conn)
    _log_left_out(ctx, "feat_service_interaction", {"erp"} if has_erp else set(),
                  {"erp": "order_value_30d and last_order_days_late"})
    since = None if changes.full else _rebuild_from(conn, changes)
    end = _day_end(ctx.as_of)
    frame = interaction_features(_interactions(conn, since, end))
    if since is not None:
        frame = frame[frame.opened_date >= pd.Timestamp(since)]
    invoices = None
    if has_erp and not frame.empty:
        invoices = _recent_invoices(conn, frame, _customers_from(since, end))
    frame = _with_recent_orders(frame, invoices, known=has_erp)
    target = table("feat_service_interaction")
    rows = rewrite(conn, target, frame[_columns(target.name, exclude=("run_id",))], ctx.run_id,
                   "opened_date", since)
    if since is None:
        return BuildOutcome(target.name, "full", rows, f"as of {ctx.as_of}")
    return BuildOutcome(target.name, "incremental", rows, f"interactions opened from {since}")


def _rebuild_from(conn: Connection, changes: Changes) -> date | None:
    """The first opened_date whose rows a change can reach; None means all of them.

    Invoices and interactions only reach rows opened on or after their own dates (their
    earlier versions' dates included), so no lead is needed. A moved as-of date also reaches
    older interactions that close between the old and new as-of: they may still be open.
    """
    dates = [changes.earliest("service", "erp")]
    moved = changes.earliest("as_of")
    if moved is not None:
        dates += [moved, _first_open_across(conn, moved)]
    since = min((d for d in dates if d is not None), default=date.min)
    return None if since == date.min else since


def _first_open_across(conn: Connection, day: date) -> date | None:
    """Opening date of the earliest interaction opened before `day` and closed on or after it."""
    service = clean_table("service")
    start = datetime.combine(day, time.min)
    value = conn.execute(
        select(func.min(service.c.opened_at))
        .where(service.c.opened_at < start, service.c.closed_at >= start)
    ).scalar()
    return None if value is None else pd.Timestamp(value).date()


def _customers_from(since: date | None, end: datetime):
    """Customers with an interaction opened in [since, end): only their history is needed."""
    service = clean_table("service")
    query = select(service.c.customer_id).where(service.c.opened_at < end)
    if since is not None:
        query = query.where(service.c.opened_at >= datetime.combine(since, time.min))
    return query


def _interactions(conn: Connection, since: date | None, end: datetime) -> pd.DataFrame:
    """Every interaction opened before `end` of the customers with one opened from `since` on,
    as the desk saw them at `end`: a close (and its rating) after it is not known yet."""
    service = clean_table("service")
    query = select(
        service.c.interaction_id, service.c.customer_id, service.c.opened_at,
        service.c.interaction_type, service.c.channel, service.c.closed_at,
        service.c.satisfaction_rating,
    ).where(service.c.opened_at < end)
    if since is not None:
        query = query.where(service.c.customer_id.in_(_customers_from(since, end)))
    frame = read_frame(conn, query)
    closed = frame.closed_at.notna() & (frame.closed_at < pd.Timestamp(end))
    rating = pd.to_numeric(frame.satisfaction_rating).astype("float64")
    return frame.assign(closed_at=frame.closed_at.where(closed),
                        satisfaction_rating=rating.where(closed))


def interaction_features(service: pd.DataFrame) -> pd.DataFrame:
    """Per interaction: what was known when it opened, its handling and its label."""
    frame = service.sort_values(["opened_at", "interaction_id"], ignore_index=True)
    opened, closed = frame.opened_at, frame.closed_at
    rating = frame.satisfaction_rating
    frame = frame.assign(
        opened_date=opened.dt.normalize(),
        hour=opened.dt.hour,
        weekday=opened.dt.weekday,
        handling_hours=(closed - opened).dt.total_seconds() / 3600,
        is_closed=closed.notna(),
        prior_contacts=frame.groupby("customer_id").opened_at.rank(method="min") - 1,
        label_low_satisfaction=(rating <= LOW_RATING).astype(object).where(rating.notna()),
    )
    frame = _with_previous_contact(frame)
    return _with_prior_ratings(frame)


def _with_previous_contact(frame: pd.DataFrame) -> pd.DataFrame:
    previous = (frame[["customer_id", "opened_at"]]
                .rename(columns={"opened_at": "previous_opened_at"})
                .drop_duplicates())
    frame = pd.merge_asof(frame, previous, left_on="opened_at", right_on="previous_opened_at",
                          by="customer_id", allow_exact_matches=False)
    gap = frame.opened_at - frame.previous_opened_at
    return frame.assign(repeat_contact_30d=(gap <= REPEAT_WINDOW).fillna(False).astype(bool))


def _with_prior_ratings(frame: pd.DataFrame) -> pd.DataFrame:
    """Ratings of the customer's interactions closed before each one opened."""
    rated = frame.loc[frame.satisfaction_rating.notna(),
                      ["customer_id", "closed_at", "satisfaction_rating"]]
    rated = rated.sort_values(["closed_at", "customer_id"], ignore_index=True)
    by_customer = rated.groupby("customer_id")
    rated = rated.assign(
        rated_count=by_customer.cumcount() + 1,
        rating_sum=by_customer.satisfaction_rating.cumsum(),
        low_count=(rated.satisfaction_rating <= LOW_RATING).astype(int)
        .groupby(rated.customer_id).cumsum(),
    ).drop(columns="satisfaction_rating").rename(columns={"closed_at": "rated_closed_at"})
    frame = pd.merge_asof(frame, rated, left_on="opened_at", right_on="rated_closed_at",
                          by="customer_id", allow_exact_matches=False)
    return frame.assign(prior_mean_rating=frame.rating_sum / frame.rated_count,
                        prior_low_share=frame.low_count / frame.rated_count)


def _recent_invoices(conn: Connection, frame: pd.DataFrame, customers) -> pd.DataFrame:
    """Invoices of `customers` in the 30 days before any interaction of the frame.

    Rows, not SQL groups: a consumer rarely has two invoices a day, so grouping by customer
    and day in SQL would cost a sort without shrinking the read.
    """
    erp = clean_table("erp")
    first = frame.opened_date.min().date() - timedelta(days=ORDER_WINDOW_DAYS)
    last = frame.opened_date.max().date() - timedelta(days=1)
    query = select(erp.c.customer_id, day_number(erp.c.invoice_date).label("day"),
                   erp.c.amount, erp.c.days_late).where(
        erp.c.invoice_date.between(first, last),
        erp.c.customer_id.in_(customers))
    return _numeric(read_frame(conn, query), exclude=("customer_id",))


def _with_recent_orders(
    frame: pd.DataFrame, invoices: pd.DataFrame | None, known: bool
) -> pd.DataFrame:
    """Order value of the 30 days before opening and the delay of the last of those invoices.

    Each interaction looks up its customer's days d-1 ... d-30 (nearest first) among the sorted
    (customer, day) keys of the daily totals: exact sums, bounded work whatever the history.
    When the last day holds several invoices, the worst delay counts.
    """
    if invoices is None or invoices.empty:
        return frame.assign(order_value_30d=0.0 if known else np.nan,
                            last_order_days_late=np.nan)
    codes, _ = pd.factorize(pd.concat([frame.customer_id, invoices.customer_id],
                                      ignore_index=True))
    opened_day = frame.opened_date.to_numpy(dtype="datetime64[D]").astype(np.int64)
    days = np.concatenate([opened_day, invoices.day.to_numpy(dtype=np.int64)])
    days -= days.min() - ORDER_WINDOW_DAYS  # every looked-up day stays >= 0
    keys = codes.astype(np.int64) * (days.max() + 1) + days
    daily = (invoices[["amount", "days_late"]].assign(key=keys[len(frame):])
             .groupby("key", sort=True).agg({"amount": "sum", "days_late": "max"}))
    daily_keys = daily.index.to_numpy()
    wanted = keys[: len(frame), None] - np.arange(1, ORDER_WINDOW_DAYS + 1)  # (rows, 30)
    found = np.minimum(np.searchsorted(daily_keys, wanted), len(daily_keys) - 1)
    hit = daily_keys[found] == wanted
    amount = np.where(hit, daily.amount.to_numpy()[found], 0.0)
    late = np.where(hit, daily.days_late.to_numpy()[found], np.nan)
    nearest = late[np.arange(len(frame)), hit.argmax(axis=1)]  # first hit: the last invoice day
    return frame.assign(order_value_30d=amount.sum(axis=1),
                        last_order_days_late=np.where(hit.any(axis=1), nearest, np.nan))


# --- shared ----------------------------------------------------------------------------------


def _usable_sources(conn: Connection) -> set[str]:
    """The optional sources the customer features can use: delivered, and for ERP, linked to
    customers (customer_id is optional: invoices without it say nothing about anyone)."""
    erp = clean_table("erp")
    checks = {
        "erp": exists().where(erp.c.customer_id.is_not(None)),
        "crm": exists().select_from(clean_table("crm")),
        "service": exists().select_from(clean_table("service")),
    }
    return {source for source, check in checks.items() if conn.execute(select(check)).scalar()}


def _log_left_out(
    ctx: BuildContext, name: str, usable: set[str], features: dict[str, str]
) -> None:
    missing = [f"{features[s]} ({UNUSABLE[s]})" for s in features if s not in usable]
    if missing:
        ctx.log(f"{name}: left NULL: {'; '.join(missing)}")


def _columns(name: str, exclude: tuple[str, ...]) -> list[str]:
    return [c.name for c in table(name).columns if c.name not in exclude]


def _numeric(frame: pd.DataFrame, exclude: tuple[str, ...]) -> pd.DataFrame:
    # PostgreSQL returns NUMERIC aggregates as Decimal; compute on float64 everywhere.
    return frame.assign(**{c: pd.to_numeric(frame[c]).astype("float64")
                           for c in frame.columns if c not in exclude})


def _days(delta: pd.Series) -> pd.Series:
    return delta.dt.days.astype("float64")


def _day_end(day: date) -> datetime:
    """Midnight after `day`: a timestamp before it happened on or before `day`."""
    return datetime.combine(day + timedelta(days=1), time.min)


CUSTOMER = FeatureSpec(
    "feat_customer", ("erp", "customers", "crm", "service"), ("customers",), build_customer
)
SERVICE_INTERACTION = FeatureSpec(
    "feat_service_interaction", ("service", "erp"), ("service",), build_service_interaction
)
