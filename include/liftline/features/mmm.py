"""The marketing-mix inputs: weekly media and revenue, weekly controls, and the CRM chain view.

feat_mmm_weekly (week x country x segment x channel): the week's spend, impressions, clicks,
video views and campaigns of the channel in the country, beside the week's marketing revenue
(POS + ERP, CONTRACT.md) of the country and product segment, repeated on each channel row.
- Weeks start on Monday; only complete weeks (week_start + 6 <= as-of) are kept, so a partial
  week never looks like a sales drop.
- Country "ALL" holds every fact, including spend and revenue without a known country (spend
  rows without a country, POS of stores without one, ERP without an invoice or customer
  country). Per-country rows hold only facts placed in that country: never add "ALL" to them.
- Segment "all" always; when products carry segments, one row per segment as well (plus
  "unknown" for revenue whose SKU has no segment: ERP invoices without a SKU, unknown SKUs), so
  the segment rows add up to "all". Spend has no segment: every segment row repeats it.
- Dense: a country has rows for every week with any of its facts (spend or revenue), for every
  channel it used up to the as-of date, spend 0 in the weeks without (and 0 impressions, clicks
  or video views where the channel reports them, else NULL); a country without any spend has
  no rows of its own (its revenue is in "ALL").

feat_mmm_controls_weekly (week x country x control, long), each control only where its sources
were delivered: `macro_<indicator>` (weekly mean; "ALL": mean over countries), `holiday_days`,
`event_days` (other events), `closure_store_days` (zeros filled from the first week of POS,
macro or events on), `price_index` (revenue-weighted POS unit price / list price), and
`promo_share` / `promo_discount_mean`: the share of open store x SKU days (every store of the
stores extract from its opening x every product) on promotion, and their mean deepest known
discount (0 off promotion), from the first promotion's week on.

feat_crm_attribution (per invoice dated on or before as-of): invoice -> opportunity ->
campaign -> channel, the CRM's last touch, with the lag from the opportunity's creation (first
touch) to the invoice. A campaign's channel is the one most of its spend rows name; an invoice
without that whole chain has no channel.

The big group-bys run in SQL by day (no per-row date arithmetic); weeks are formed in pandas.
Incremental: weeks from the Monday of the earliest changed date are rebuilt. A changed dimension
(stores, products, customers), a changed CRM, or earlier weeks no longer what a full build would
write (a new channel or country to densify over, a campaign whose channel changed) rebuild all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Date,
    Integer,
    String,
    Table,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)

from liftline.warehouse import bulk_insert, clean_table, exact_sum, read_frame, table

from .base import BuildContext, BuildOutcome, Changes, FeatureSpec
from .coverage import CANCELLED, event_stores, fill, promo_cover, temp_table
from .sql import UNIX_EPOCH, day_number, rewrite

ALL_COUNTRIES = "ALL"
ALL_SEGMENTS = "all"
UNKNOWN_SEGMENT = "unknown"
ACTIVITY = ("impressions", "clicks", "video_views")
EVENT_CONTROLS = ("holiday_days", "event_days", "closure_store_days")
NOTHING = date.max  # "rebuild from": no dated change touches the table
EventGrid = tuple[date | None, list[str]]  # first week of the event counts, their countries

MMM_INPUTS = ("spend", "pos", "erp", "stores", "products", "customers")
CONTROL_INPUTS = ("macro", "events", "pos", "promotions", "products", "stores")
CRM_INPUTS = ("erp", "crm", "spend", "customers")


# --- shared: weeks, rebuild ranges, totals -----------------------------------------------------


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def last_complete_week(as_of: date) -> date:
    """Monday of the last week that ends on or before `as_of`."""
    return monday(as_of - timedelta(days=6))


def _mondays(days: pd.Series) -> pd.Series:
    days = pd.to_datetime(days)
    return days - pd.to_timedelta(days.dt.dayofweek, unit="D")


def _rebuild_since(changes: Changes, sources: Iterable[str]) -> date | None:
    """Monday of the first week to rebuild; None: the whole table; NOTHING: no week."""
    if changes.full:
        return None
    earliest = changes.earliest(*sources, "as_of")
    if earliest is None:
        return NOTHING
    return None if earliest == date.min else monday(earliest)


def _has_rows(conn: Connection, source: str) -> bool:
    return bool(conn.execute(select(exists().select_from(clean_table(source)))).scalar())


def _outcome(name: str, changes: Changes, since: date | None, rows: int) -> BuildOutcome:
    if since is None:
        return BuildOutcome(name, "full", rows, changes.reason)
    if since == NOTHING:
        return BuildOutcome(name, "incremental", 0, f"no week to rebuild; {changes.reason}")
    return BuildOutcome(name, "incremental", rows, f"weeks from {since}; {changes.reason}")


def _log_left_out(ctx: BuildContext, name: str, notes: list[str]) -> None:
    if notes:
        ctx.log(f"{name}: left out: {'; '.join(notes)}")


def _empty(feat: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: [] for c in feat.columns if c.name != "run_id"})


def _with_all_countries(frame: pd.DataFrame, keys: list[str], sums: list[str]) -> pd.DataFrame:
    """`frame` (country may be NULL) per named country, plus the "ALL" country total."""
    total = frame.groupby(keys, dropna=False)[sums].sum(min_count=1).reset_index()
    named = frame[frame["country"].notna()]
    return pd.concat([named, total.assign(country=ALL_COUNTRIES)], ignore_index=True)


def _weekly_sums(conn: Connection, day, keys: list, sums: dict, source, *where) -> pd.DataFrame:
    """SUM of each of `sums` per day and `keys` in SQL, then per week (`week_start`) in pandas.

    A NULL key is a group of its own; a sum stays NULL when no row had a value.
    """
    query = (
        select(day.label("day"), *keys, *(exact_sum(v).label(n) for n, v in sums.items()))
        .select_from(source)
        .where(*where)
        .group_by(day, *keys)
        .order_by(day, *keys)  # pandas then sums each week's days in the same order everywhere
    )
    frame = read_frame(conn, query, parse_dates=["day"])
    names = [k.name for k in keys]
    frame = frame.astype({n: float for n in sums}).assign(week_start=_mondays(frame["day"]))
    return (frame.groupby(["week_start", *names], dropna=False)[list(sums)]
            .sum(min_count=1).reset_index())


# --- feat_mmm_weekly ---------------------------------------------------------------------------


def build_mmm_weekly(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    feat = table("feat_mmm_weekly")
    last_week = last_complete_week(ctx.as_of)
    end = last_week + timedelta(days=6)
    channels = _channel_series(conn, end)
    since = _rebuild_since(changes, MMM_INPUTS)
    if since not in (None, NOTHING) and not _prefix_has_series(conn, feat, since, channels):
        ctx.log(f"{feat.name}: channels differ from the last build's; rebuilding all weeks")
        since = None
    if since == NOTHING or (since is not None and since > last_week):
        rows = rewrite(conn, feat, _empty(feat), ctx.run_id, "week_start", since)
        return _outcome(feat.name, changes, since, rows)
    start = since or date.min
    notes: list[str] = []
    segments = _known_segments(conn)
    if not segments:
        notes.append("product segments (no products with a segment)")
    spend = _weekly_spend(conn, start, end)
    revenue = _weekly_revenue(conn, start, end, segments, notes)
    frame = _dense_weekly(spend, revenue, channels, segments, notes)
    _log_left_out(ctx, feat.name, notes)
    rows = rewrite(conn, feat, frame, ctx.run_id, "week_start", since)
    return _outcome(feat.name, changes, since, rows)


def _channel_series(conn: Connection, end: date) -> pd.DataFrame:
    """Every country's channels up to `end` (and "ALL"'s), with which activity they report."""
    spend = clean_table("spend")
    query = (
        select(spend.c.country, spend.c.channel,
               *(func.count(spend.c[m]).label(m) for m in ACTIVITY))
        .where(spend.c.date <= end)
        .group_by(spend.c.country, spend.c.channel)
    )
    frame = _with_all_countries(read_frame(conn, query), ["channel"], list(ACTIVITY))
    return frame.assign(**{m: frame[m] > 0 for m in ACTIVITY})


def _prefix_has_series(conn: Connection, feat: Table, since: date, channels: pd.DataFrame) -> bool:
    """Whether weeks before `since` hold each of their countries' channels as a full build would.

    Earlier weeks are densified over the channels of all weeks: a channel that appears (or an
    activity first reported) later changes them too.
    """
    reported = [(func.count(feat.c[m]) > 0).label(m) for m in ACTIVITY]
    query = (
        select(feat.c.country, feat.c.channel, *reported)
        .where(feat.c.week_start < since, feat.c.segment == ALL_SEGMENTS)
        .group_by(feat.c.country, feat.c.channel)
    )
    before = read_frame(conn, query)
    expected = channels[channels["country"].isin(before["country"])]
    return _series_set(before) == _series_set(expected)


def _series_set(frame: pd.DataFrame) -> set[tuple]:
    flags = frame[list(ACTIVITY)].astype(bool)  # SQLite answers 0/1, PostgreSQL booleans
    return set(zip(frame["country"], frame["channel"], *(flags[m] for m in ACTIVITY),
                   strict=True))


def _known_segments(conn: Connection) -> list[str]:
    products = clean_table("products")
    query = select(products.c.segment).where(products.c.segment.is_not(None)).distinct()
    known = sorted({str(s) for s in conn.execute(query).scalars()} - {UNKNOWN_SEGMENT})
    return [*known, UNKNOWN_SEGMENT] if known else []


def _weekly_spend(conn: Connection, start: date, end: date) -> pd.DataFrame:
    """Spend, activity and campaigns per week, country and channel, with "ALL"."""
    spend = clean_table("spend")
    per_campaign = _weekly_sums(
        conn, spend.c.date, [spend.c.country, spend.c.channel, spend.c.campaign_id],
        {"spend": spend.c.spend, **{m: spend.c[m] for m in ACTIVITY}},
        spend, spend.c.date.between(start, end))
    per_campaign = pd.concat([per_campaign[per_campaign["country"].notna()],
                              per_campaign.assign(country=ALL_COUNTRIES)], ignore_index=True)
    grouped = per_campaign.groupby(["week_start", "country", "channel"])
    frame = grouped[["spend", *ACTIVITY]].sum(min_count=1)
    frame["campaigns"] = grouped["campaign_id"].nunique()
    return frame.reset_index().fillna({"spend": 0.0})


def _weekly_revenue(conn: Connection, start: date, end: date, segments: list[str],
                    notes: list[str]) -> pd.DataFrame:
    """POS and ERP revenue per week, country and segment ("all" and `segments`), with "ALL"."""
    pos, erp = clean_table("pos"), clean_table("erp")
    products, customers = clean_table("products"), clean_table("customers")
    # POS grouped by (date, store_id), its index order: no sort of every sale; the store's
    # country is mapped in pandas.
    pos_revenue = _revenue_by_segment(
        conn, pos.c.date, [pos.c.store_id], pos.c.revenue, segments,
        pos.outerjoin(products, products.c.sku == pos.c.sku), pos.c.date.between(start, end))
    pos_revenue["country"] = pos_revenue.pop("store_id").map(_store_countries(conn))
    erp_revenue = _revenue_by_segment(
        conn, erp.c.invoice_date,
        [func.coalesce(erp.c.country, customers.c.country).label("country")], erp.c.amount,
        segments,
        erp.outerjoin(customers, customers.c.customer_id == erp.c.customer_id)
        .outerjoin(products, products.c.sku == erp.c.sku),
        erp.c.invoice_date.between(start, end))
    keys = ["week_start", "country", "segment"]
    parts = []
    for source, frame in (("pos", pos_revenue), ("erp", erp_revenue)):
        if frame.empty and not _has_rows(conn, source):
            notes.append(f"{source.upper()} revenue (no {source} delivered)")
        parts.append(frame.groupby(keys, dropna=False)[["revenue"]].sum()
                     .rename(columns={"revenue": f"revenue_{source}"}))
    frame = parts[0].join(parts[1], how="outer").fillna(0.0).reset_index()
    unplaced = frame.loc[frame["country"].isna() & (frame["segment"] == ALL_SEGMENTS),
                         ["revenue_pos", "revenue_erp"]].sum().sum()
    if unplaced:
        notes.append(f"{unplaced:,.2f} of revenue without a country (in ALL only)")
    return _with_all_countries(frame, ["week_start", "segment"], ["revenue_pos", "revenue_erp"])


def _revenue_by_segment(conn: Connection, day, keys: list, amount, segments: list[str],
                        source, *where) -> pd.DataFrame:
    """Long revenue per week, `keys` and segment: "all", then each of `segments` as columns
    of one SQL pass (CASE on the product's segment; no segment or product: "unknown")."""
    segment = clean_table("products").c.segment
    sums = {"s_all": amount}
    for i, name in enumerate(segments):
        # A segment literally called "unknown" joins the SKUs without one.
        match = or_(segment.is_(None), segment == name) if name == UNKNOWN_SEGMENT \
            else segment == name
        sums[f"s{i}"] = case((match, amount))
    frame = _weekly_sums(conn, day, keys, sums, source, *where)
    labels = {"s_all": ALL_SEGMENTS, **{f"s{i}": name for i, name in enumerate(segments)}}
    long = frame.melt(id_vars=["week_start", *(k.name for k in keys)], value_vars=list(sums),
                      var_name="segment", value_name="revenue")
    return long.assign(segment=long["segment"].map(labels), revenue=long["revenue"].fillna(0.0))


def _store_countries(conn: Connection) -> pd.Series:
    stores = clean_table("stores")
    frame = read_frame(conn, select(stores.c.store_id, stores.c.country))
    return frame.set_index("store_id")["country"]


def _dense_weekly(spend: pd.DataFrame, revenue: pd.DataFrame, channels: pd.DataFrame,
                  segments: list[str], notes: list[str]) -> pd.DataFrame:
    """Every week of each country's facts x its channels x segments, zeros where nothing ran."""
    week = ["week_start", "country"]
    weeks = pd.concat([spend[week], revenue[week]]).drop_duplicates()
    no_spend = sorted(set(weeks["country"]) - set(channels["country"]))
    if no_spend:
        notes.append(f"own rows of countries without spend ({', '.join(no_spend)}; in ALL)")
    grid = weeks.merge(channels.rename(columns={m: f"has_{m}" for m in ACTIVITY}), on="country")
    grid = grid.merge(pd.DataFrame({"segment": [ALL_SEGMENTS, *segments]}), how="cross")
    frame = (grid.merge(revenue, on=[*week, "segment"], how="left")
             .merge(spend, on=[*week, "channel"], how="left"))
    idle = frame["campaigns"].isna()
    for metric in ACTIVITY:
        # No spend row that week: none of the activity the channel reports happened.
        frame[metric] = frame[metric].astype(float).mask(idle & frame[f"has_{metric}"], 0.0)
    frame = frame.fillna({"spend": 0.0, "campaigns": 0, "revenue_pos": 0.0, "revenue_erp": 0.0})
    frame["campaigns"] = frame["campaigns"].astype("int64")
    frame["revenue"] = frame["revenue_pos"] + frame["revenue_erp"]
    columns = ["week_start", "country", "segment", "channel", "spend", *ACTIVITY, "campaigns",
               "revenue_pos", "revenue_erp", "revenue"]
    return frame[columns].sort_values(columns[:4], ignore_index=True)


# --- feat_mmm_controls_weekly ------------------------------------------------------------------


def build_mmm_controls(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    feat = table("feat_mmm_controls_weekly")
    last_week = last_complete_week(ctx.as_of)
    end = last_week + timedelta(days=6)
    grid = _event_grid(conn, end)
    since = _rebuild_since(changes, CONTROL_INPUTS)
    if since not in (None, NOTHING) and not _prefix_has_event_grid(conn, feat, since, grid):
        ctx.log(f"{feat.name}: event counts' countries or weeks differ from the last build's; "
                "rebuilding all weeks")
        since = None
    if since == NOTHING or (since is not None and since > last_week):
        rows = rewrite(conn, feat, _empty(feat), ctx.run_id, "week_start", since)
        return _outcome(feat.name, changes, since, rows)
    start = since or date.min
    notes: list[str] = []
    parts = [
        _macro_controls(conn, start, end, notes),
        _event_controls(conn, start, end, grid, notes),
        _price_controls(conn, start, end, notes),
        _promo_controls(conn, start, end, notes),
    ]
    _log_left_out(ctx, feat.name, notes)
    frame = pd.concat([p for p in parts if not p.empty] or [_empty(feat)], ignore_index=True)
    frame = frame.sort_values(["week_start", "country", "control"], ignore_index=True)
    rows = rewrite(conn, feat, frame, ctx.run_id, "week_start", since)
    return _outcome(feat.name, changes, since, rows)


def _control_rows(frame: pd.DataFrame, control: str, value: str) -> pd.DataFrame:
    return pd.DataFrame({"week_start": frame["week_start"], "country": frame["country"],
                         "control": control, "value": frame[value].astype(float)})


def _event_grid(conn: Connection, end: date) -> EventGrid:
    """First week and countries the event counts are filled for (None: no events delivered).

    Weeks from the first POS, macro or event date, so quiet weeks before the first event count
    zero too; countries of stores, events and macro, and "ALL".
    """
    if not _has_rows(conn, "events"):
        return None, []
    dated = [clean_table(s) for s in ("pos", "macro", "events")]
    firsts = union_all(*(select(func.min(t.c.date).label("d")).where(t.c.date <= end)
                         for t in dated)).subquery()
    first = conn.execute(select(func.min(firsts.c.d))).scalar()
    if first is None:
        return None, []
    stores, events, macro = clean_table("stores"), clean_table("events"), clean_table("macro")
    queries = [
        select(stores.c.country).where(stores.c.country.is_not(None)),
        select(events.c.country).where(events.c.country.is_not(None), events.c.date <= end),
        select(macro.c.country).where(macro.c.date <= end),
    ]
    found = {str(c) for q in queries for c in conn.execute(q.distinct()).scalars()}
    return monday(pd.Timestamp(first).date()), [*sorted(found - {ALL_COUNTRIES}), ALL_COUNTRIES]


def _prefix_has_event_grid(conn: Connection, feat: Table, since: date, grid: EventGrid) -> bool:
    """Whether the weeks before `since` hold event counts for exactly the countries they would
    in a full build (none when they precede the counts' first week)."""
    query = (select(feat.c.country).distinct()
             .where(feat.c.week_start < since, feat.c.control == EVENT_CONTROLS[0]))
    before = set(conn.execute(query).scalars())
    first_week, countries = grid
    expected = set(countries) if first_week is not None and first_week < since else set()
    return before == expected


def _macro_controls(conn: Connection, start: date, end: date, notes: list[str]) -> pd.DataFrame:
    """Weekly mean of each indicator per country; "ALL" is the mean over countries."""
    macro = clean_table("macro")
    frame = read_frame(conn, select(macro.c.date, macro.c.country, macro.c.indicator,
                                    macro.c.value).where(macro.c.date.between(start, end)))
    if frame.empty:
        if not _has_rows(conn, "macro"):
            notes.append("macro indicators (no macro delivered)")
        return frame
    frame = frame.assign(week_start=_mondays(frame["date"]), value=frame["value"].astype(float))
    keys = ["week_start", "indicator"]
    weekly = frame.groupby([*keys, "country"], as_index=False)["value"].mean()
    overall = weekly.groupby(keys, as_index=False)["value"].mean()
    weekly = pd.concat([weekly, overall.assign(country=ALL_COUNTRIES)], ignore_index=True)
    return pd.concat([_control_rows(group, f"macro_{indicator}", "value")
                      for indicator, group in weekly.groupby("indicator")], ignore_index=True)


def _event_controls(conn: Connection, start: date, end: date, grid: EventGrid,
                    notes: list[str]) -> pd.DataFrame:
    """Holiday and other event days per country-week, and closed store-days, zeros filled over
    the grid. An event without a country applies to its store's or region's country, else to
    every country."""
    events = clean_table("events")
    first_week, countries = grid
    if first_week is None:
        notes.append("event counts (no events delivered)")
        return pd.DataFrame()
    first_week = max(first_week, start)
    if first_week > end:
        return pd.DataFrame()
    frame = read_frame(conn, select(events.c.date, events.c.kind, events.c.country,
                                    events.c.region, events.c.store_id)
                       .where(events.c.date.between(first_week, end)))
    stores = _store_places(conn, frame)
    frame["country"] = _event_country(frame, stores)
    frame["week_start"] = _mondays(frame["date"])
    kind = frame["kind"].fillna("").str.lower()
    counts = [
        _event_days(frame[kind == "holiday"], countries, "holiday_days"),
        _event_days(frame[(kind != "holiday") & (kind != "closure")], countries, "event_days"),
        _closure_store_days(frame[kind == "closure"], stores, "closure_store_days"),
    ]
    weeks = pd.date_range(first_week, end - timedelta(days=6), freq="7D")
    index = pd.MultiIndex.from_product([weeks, countries, EVENT_CONTROLS],
                                       names=["week_start", "country", "control"])
    values = pd.concat(counts).set_index(["week_start", "country", "control"])["value"]
    dense = values.reindex(index, fill_value=0.0).reset_index()
    return dense.assign(value=dense["value"].astype(float))


def _store_places(conn: Connection, events: pd.DataFrame) -> pd.DataFrame:
    """Stores with region and country; event stores not in the stores extract take the event's."""
    stores = clean_table("stores")
    known = read_frame(conn, select(stores.c.store_id, stores.c.region, stores.c.country))
    named = events.loc[events["store_id"].notna(), ["store_id", "region", "country"]]
    extra = named[~named["store_id"].isin(known["store_id"])].drop_duplicates("store_id")
    return pd.concat([known, extra], ignore_index=True)


def _event_country(events: pd.DataFrame, stores: pd.DataFrame) -> pd.Series:
    by_store = stores.dropna(subset=["country"]).set_index("store_id")["country"]
    regions = stores.dropna(subset=["region", "country"]).drop_duplicates(["region", "country"])
    by_region = regions.drop_duplicates("region", keep=False).set_index("region")["country"]
    return (events["country"].fillna(events["store_id"].map(by_store))
            .fillna(events["region"].map(by_region)))


def _event_days(events: pd.DataFrame, countries: list[str], control: str) -> pd.DataFrame:
    """Distinct days per week with such an event in the country (no country: every country)."""
    placed = events[events["country"].notna()][["week_start", "date", "country"]]
    everywhere = events[events["country"].isna()][["week_start", "date"]]
    named = pd.DataFrame({"country": [c for c in countries if c != ALL_COUNTRIES]})
    days = pd.concat([placed, everywhere.merge(named, how="cross"),
                      events[["week_start", "date"]].assign(country=ALL_COUNTRIES)])
    counts = days.drop_duplicates().groupby(["week_start", "country"], as_index=False).size()
    return _control_rows(counts, control, "size")


def _closure_store_days(closures: pd.DataFrame, stores: pd.DataFrame, control: str
                        ) -> pd.DataFrame:
    """Closed store-days per country-week: the named store, else the region's, else the
    country's, else every store."""
    applied = event_stores(closures[["week_start", "date", "store_id", "region", "country"]],
                           stores[["store_id", "region", "country"]])
    days = applied.drop_duplicates(["date", "store_id"]).assign(n=1.0)
    counts = _with_all_countries(days[["week_start", "country", "n"]], ["week_start"], ["n"])
    counts = counts.groupby(["week_start", "country"], as_index=False)["n"].sum()
    return _control_rows(counts, control, "n")


def _price_controls(conn: Connection, start: date, end: date, notes: list[str]) -> pd.DataFrame:
    """Revenue-weighted POS unit price / list price per country-week."""
    pos, products = clean_table("pos"), clean_table("products")
    unit_price = func.coalesce(pos.c.unit_price, pos.c.revenue / func.nullif(pos.c.units, 0))
    ratio = unit_price / func.nullif(products.c.list_price, 0)
    # Grouped by (date, store_id), the POS index order; countries mapped in pandas.
    frame = _weekly_sums(
        conn, pos.c.date, [pos.c.store_id],
        {"weighted": pos.c.revenue * ratio, "revenue": pos.c.revenue},
        pos.join(products, products.c.sku == pos.c.sku),
        pos.c.date.between(start, end), ratio.is_not(None))
    if frame.empty:
        if not (_has_rows(conn, "pos") and _has_rows(conn, "products")):
            notes.append("price index (needs pos and products with list_price)")
        return frame
    frame["country"] = frame.pop("store_id").map(_store_countries(conn))
    frame = _with_all_countries(frame, ["week_start"], ["weighted", "revenue"])
    frame = frame.groupby(["week_start", "country"], as_index=False)[["weighted", "revenue"]].sum()
    frame["value"] = frame["weighted"] / frame["revenue"].where(frame["revenue"] != 0)
    return _control_rows(frame, "price_index", "value")


def _promo_controls(conn: Connection, start: date, end: date, notes: list[str]) -> pd.DataFrame:
    """Share of open store x SKU days on promotion and their mean deepest known discount."""
    promos = clean_table("promotions")
    first = conn.execute(select(func.min(promos.c.start_date))
                         .where(promos.c.start_date <= end,
                                func.coalesce(func.lower(promos.c.status), "") != CANCELLED)
                         ).scalar()
    if first is None or not (_has_rows(conn, "stores") and _has_rows(conn, "products")):
        notes.append("promotion intensity (needs promotions, stores and products)")
        return pd.DataFrame()
    first_week = max(monday(pd.Timestamp(first).date()), start)
    if first_week > end:
        return pd.DataFrame()
    cells = _catalogue_cells(conn)
    first_dn, last_dn = (first_week - UNIX_EPOCH).days, (end - UNIX_EPOCH).days
    cover = promo_cover(conn, cells)
    cover = read_frame(conn, select(cover.c.promo_id, cover.c.store_id, cover.c.sku,
                                    cover.c.start_dn, cover.c.end_dn, cover.c.discount_pct)
                       .where(cover.c.end_dn >= first_dn, cover.c.start_dn <= last_dn))
    cells = read_frame(conn, select(cells.c.store_id, cells.c.sku, cells.c.first_dn,
                                    cells.c.country))
    weekly = _promo_cell_days(cells, cover, first_dn, last_dn)
    weekly = weekly[weekly["live"] > 0]
    weekly = weekly.assign(share=weekly["promoted"] / weekly["live"],
                           depth=weekly["discount"] / weekly["known"].where(weekly["known"] > 0))
    return pd.concat([_control_rows(weekly, "promo_share", "share"),
                      _control_rows(weekly, "promo_discount_mean", "depth")], ignore_index=True)


def _catalogue_cells(conn: Connection) -> Table:
    """Every store x product (the universe promotions cover), open from the store's opening."""
    stores, products = clean_table("stores"), clean_table("products")
    cells = temp_table(
        conn, "mmm_cells",
        Column("store_id", String, primary_key=True), Column("sku", String, primary_key=True),
        Column("first_dn", Integer), Column("region", String), Column("country", String),
        Column("category", String),
    )
    query = select(stores.c.store_id, products.c.sku, day_number(stores.c.opened_date),
                   stores.c.region, stores.c.country, products.c.category
                   ).select_from(stores.join(products, true()))
    return fill(conn, cells, query)


def _promo_cell_days(cells: pd.DataFrame, cover: pd.DataFrame, first_dn: int, last_dn: int
                     ) -> pd.DataFrame:
    """Per week and country: open cell-days, promoted ones, summed deepest known discount and
    cell-days whose discount is known (0 off promotion), one day at a time over a cell vector."""
    unplaced = "\x00"  # stores without a country: counted in "ALL" only
    codes, names = pd.factorize(cells["country"].fillna(unplaced), sort=True)
    position = pd.Series(np.arange(len(cells)),
                         index=pd.MultiIndex.from_frame(cells[["store_id", "sku"]]))
    cover = cover.assign(cell=position.reindex(
        pd.MultiIndex.from_frame(cover[["store_id", "sku"]])).to_numpy())
    active: dict[int, list[tuple[float, np.ndarray]]] = {}
    for _, promo in cover.groupby("promo_id", sort=True):
        discount = promo["discount_pct"].astype(float).iat[0]
        cell = promo["cell"].to_numpy(dtype=np.int64)
        for dn in range(max(int(promo["start_dn"].iat[0]), first_dn),
                        min(int(promo["end_dn"].iat[0]), last_dn) + 1):
            active.setdefault(dn, []).append((discount, cell))
    opened = cells["first_dn"].astype(float).fillna(-np.inf).to_numpy()
    weeks: dict[int, np.ndarray] = {}
    for dn in range(first_dn, last_dn + 1):
        deepest = np.full(len(cells), -1.0)  # -1: not on promotion; NaN: depth unknown
        for discount, cell in active.get(dn, ()):
            current = deepest[cell]
            deepest[cell] = np.where(current == -1.0, discount, np.fmax(current, discount))
        live = opened <= dn
        promoted = live & (deepest != -1.0)
        known = live & ~np.isnan(deepest)
        depth = np.where(promoted & known, deepest, 0.0)
        totals = weeks.setdefault(dn - (dn + 3) % 7, np.zeros((4, len(names))))
        totals += [np.bincount(codes, weights=w.astype(float), minlength=len(names))
                   for w in (live, promoted, known, depth)]
    frame = pd.DataFrame([
        {"week_start": pd.Timestamp(UNIX_EPOCH) + pd.Timedelta(days=week), "country": country,
         "live": t[0, i], "promoted": t[1, i], "known": t[2, i], "discount": t[3, i]}
        for week, t in weeks.items() for i, country in enumerate(names)
    ], columns=["week_start", "country", "live", "promoted", "known", "discount"])
    frame["country"] = frame["country"].where(frame["country"] != unplaced)
    return _with_all_countries(frame, ["week_start"], ["live", "promoted", "known", "discount"])


# --- feat_crm_attribution ----------------------------------------------------------------------


def build_crm_attribution(conn: Connection, ctx: BuildContext, changes: Changes) -> BuildOutcome:
    feat = table("feat_crm_attribution")
    channels = _campaign_channels(conn, ctx.as_of)
    # An opportunity's campaign (or creation date) can change: every invoice may move.
    since = None if changes.changed("crm") else _rebuild_since(changes, ("erp", "customers"))
    if since is not None and not _prefix_has_channels(conn, feat, since, channels):
        ctx.log(f"{feat.name}: a campaign's channel changed; rebuilding all invoices")
        since = None
    if since == NOTHING:
        return _outcome(feat.name, changes, since, 0)
    notes = [] if _has_rows(conn, "crm") else ["the CRM chain (no crm delivered)"]
    if channels.empty:
        notes.append("channels (no spend names a campaign)")
    _log_left_out(ctx, feat.name, notes)
    rows = _write_attribution(conn, feat, ctx, channels, since)
    return _outcome(feat.name, changes, since, rows)


def _campaign_channels(conn: Connection, as_of: date) -> pd.Series:
    """campaign_id -> the channel most of its spend rows name (ties: alphabetical)."""
    spend = clean_table("spend")
    query = (select(spend.c.campaign_id, spend.c.channel, func.count().label("n"))
             .where(spend.c.date <= as_of)
             .group_by(spend.c.campaign_id, spend.c.channel))
    frame = read_frame(conn, query).sort_values(["campaign_id", "n", "channel"],
                                                ascending=[True, False, True])
    return frame.drop_duplicates("campaign_id").set_index("campaign_id")["channel"]


def _prefix_has_channels(conn: Connection, feat: Table, since: date, channels: pd.Series
                         ) -> bool:
    """Whether invoices before `since` (all, for NOTHING) name each campaign's channel today."""
    query = (select(feat.c.campaign_id, feat.c.channel).distinct()
             .where(feat.c.invoice_date < since, feat.c.campaign_id.is_not(None)))
    before = read_frame(conn, query)
    now = before["campaign_id"].map(channels)
    return bool((before["channel"].fillna("") == now.fillna("")).all())


def _write_attribution(conn: Connection, feat: Table, ctx: BuildContext, channels: pd.Series,
                       since: date | None) -> int:
    """Invoices from `since` (all when None) traced in one INSERT ... SELECT: no invoice passes
    through Python; the campaign channels and each day's week come in as temporary tables."""
    erp, crm, customers = clean_table("erp"), clean_table("crm"), clean_table("customers")
    start = since or date.min
    conn.execute(delete(feat).where(feat.c.invoice_date >= start))
    first = conn.execute(select(func.min(erp.c.invoice_date))
                         .where(erp.c.invoice_date.between(start, ctx.as_of))).scalar()
    if first is None:
        return 0
    days = pd.Series(pd.date_range(pd.Timestamp(first), pd.Timestamp(ctx.as_of), freq="D"))
    weeks = temp_table(conn, "mmm_weeks", Column("date", Date, primary_key=True),
                       Column("week_start", Date))
    bulk_insert(conn, weeks, pd.DataFrame({"date": days, "week_start": _mondays(days)}))
    campaigns = temp_table(conn, "mmm_campaigns", Column("campaign_id", String, primary_key=True),
                           Column("channel", String))
    bulk_insert(conn, campaigns, channels.rename_axis("campaign_id").reset_index())
    query = (
        select(erp.c.invoice_id, erp.c.invoice_date, weeks.c.week_start,
               func.coalesce(erp.c.country, customers.c.country), erp.c.amount,
               erp.c.opportunity_id, crm.c.campaign_id, campaigns.c.channel,
               crm.c.created_date,
               day_number(erp.c.invoice_date) - day_number(crm.c.created_date),
               literal(ctx.run_id, String))
        .select_from(erp.join(weeks, weeks.c.date == erp.c.invoice_date)
                     .outerjoin(customers, customers.c.customer_id == erp.c.customer_id)
                     .outerjoin(crm, crm.c.opportunity_id == erp.c.opportunity_id)
                     .outerjoin(campaigns, campaigns.c.campaign_id == crm.c.campaign_id))
        .where(erp.c.invoice_date.between(start, ctx.as_of))
    )
    columns = ["invoice_id", "invoice_date", "week_start", "country", "amount", "opportunity_id",
               "campaign_id", "channel", "first_touch_date", "lag_days", "run_id"]
    conn.execute(feat.insert().from_select(columns, query))
    return conn.execute(select(func.count()).select_from(feat)
                        .where(feat.c.invoice_date >= start)).scalar()


MMM_WEEKLY = FeatureSpec("feat_mmm_weekly", MMM_INPUTS, ("spend",), build_mmm_weekly)
MMM_CONTROLS_WEEKLY = FeatureSpec("feat_mmm_controls_weekly", CONTROL_INPUTS, (),
                                  build_mmm_controls)
CRM_ATTRIBUTION = FeatureSpec("feat_crm_attribution", CRM_INPUTS, ("erp",),
                              build_crm_attribution)
