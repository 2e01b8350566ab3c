"""Reading the model inputs of one (country, segment) from the warehouse feature tables.

feat_mmm_weekly (long: week x country x segment x channel) is pivoted to spend per channel and
the spec's target revenue per week; feat_mmm_controls_weekly (long: week x country x control)
to one column per control; lift tests are the delivered lift_tests extract, read through the
features package. The CRM last-touch view (feat_crm_attribution) is summed per channel over
the modelled weeks.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from liftline.features import read_lift_tests
from liftline.warehouse import exact_sum, read_frame, table

from .design import LIFT_TEST_COLUMNS, MMMData, MMMInputError
from .spec import MMMSpec

ALL_COUNTRIES = "ALL"
ALL_SEGMENTS = "all"
UNKNOWN_SEGMENT = "unknown"
Bind = Engine | Connection


def load_mmm_data(bind: Bind, spec: MMMSpec, country: str = ALL_COUNTRIES,
                  segment: str = ALL_SEGMENTS) -> MMMData:
    """The weekly design inputs of one fit; MMMInputError (one line) when there are none."""
    feat = table("feat_mmm_weekly")
    query = (select(feat.c.week_start, feat.c.channel, feat.c.spend,
                    feat.c[spec.target].label("target"))
             .where(feat.c.country == country, feat.c.segment == segment))
    long = read_frame(bind, query)
    if long.empty:
        raise MMMInputError(
            f"feat_mmm_weekly has no rows for country {country!r}, segment {segment!r}: the mix "
            "model needs spend and POS or ERP revenue there (deliver them and build features)")
    long["week_start"] = pd.to_datetime(long["week_start"])
    spend = long.pivot_table(index="week_start", columns="channel", values="spend",
                             aggfunc="sum").sort_index()
    spend.columns = [str(c) for c in spend.columns]
    revenue = long.groupby("week_start")["target"].first().sort_index().astype(float)
    return MMMData(spend=spend.astype(float), revenue=revenue.rename(spec.target),
                   controls=load_controls(bind, country), lift_tests=load_lift_tests(bind,
                                                                                       country),
                   country=country, segment=segment)


def load_controls(bind: Bind, country: str) -> pd.DataFrame:
    """feat_mmm_controls_weekly as one column per control, plus `open_store_days`."""
    feat = table("feat_mmm_controls_weekly")
    frame = read_frame(bind, select(feat.c.week_start, feat.c.control, feat.c.value)
                       .where(feat.c.country == country))
    wide = pd.DataFrame()
    if not frame.empty:
        frame["week_start"] = pd.to_datetime(frame["week_start"])
        wide = frame.pivot_table(index="week_start", columns="control", values="value",
                                 aggfunc="mean", dropna=False).sort_index()
        wide.columns = [str(c) for c in wide.columns]
    stores = load_open_store_days(bind, country)
    if not stores.empty:
        wide = wide.join(stores, how="outer") if not wide.empty else stores.to_frame()
    return wide.astype(float)


def load_open_store_days(bind: Bind, country: str) -> pd.Series:
    """Store-days open for trade per week (feat_sales_store_daily: from a store's first sale,
    closures excluded): store openings move revenue as much as media does."""
    feat = table("feat_sales_store_daily")
    query = (select(feat.c.date, func.count().label("n"))
             .where(feat.c.is_future.is_(False), feat.c.is_closed.is_(False))
             .group_by(feat.c.date).order_by(feat.c.date))
    if country != ALL_COUNTRIES:
        query = query.where(feat.c.country == country)
    frame = read_frame(bind, query)
    if frame.empty:
        return pd.Series(dtype=float, name="open_store_days")
    days = pd.to_datetime(frame["date"])
    weeks = days - pd.to_timedelta(days.dt.weekday, unit="D")
    weekly = frame["n"].astype(float).groupby(weeks.to_numpy()).sum()
    weekly.index = pd.DatetimeIndex(weekly.index, name="week_start")
    return weekly.rename("open_store_days")


def load_lift_tests(bind: Bind, country: str) -> pd.DataFrame:
    """Tests of the country or without one; for "ALL", every test (a country's test is
    compared per unit of spend, see evaluate.LiftTests)."""
    frame = read_lift_tests(bind, LIFT_TEST_COLUMNS,
                            country=None if country == ALL_COUNTRIES else country)
    for column in ("start_date", "end_date", "measured_until"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.astype({c: float for c in ("incremental_revenue", "spend", "std_error")})


def crm_last_touch(bind: Bind, country: str, first_week: pd.Timestamp, last_week: pd.Timestamp
                   ) -> pd.DataFrame:
    """ERP revenue per last-touch channel over the weeks (channel, revenue)."""
    feat = table("feat_crm_attribution")
    query = (select(feat.c.channel, exact_sum(feat.c.amount).label("revenue"))
             .where(feat.c.channel.is_not(None),
                    feat.c.week_start.between(first_week.date(), last_week.date()))
             .group_by(feat.c.channel).order_by(feat.c.channel))
    if country != ALL_COUNTRIES:
        query = query.where(feat.c.country == country)
    frame = read_frame(bind, query)
    return frame.astype({"revenue": float}) if not frame.empty else \
        pd.DataFrame({"channel": pd.Series(dtype=str), "revenue": pd.Series(dtype=float)})


def fit_keys(bind: Bind, spec: MMMSpec) -> list[dict[str, str]]:
    """The (country, segment) fits the spec's granularity asks for, among those with rows.

    "global" is always the one fit ALL/all (skipped with a reason when it has no rows);
    segment "unknown" (revenue whose SKU has no segment) is never a fit of its own.
    """
    if spec.granularity == "global":
        return [{"country": ALL_COUNTRIES, "segment": ALL_SEGMENTS}]
    feat = table("feat_mmm_weekly")
    present = read_frame(bind, select(feat.c.country, feat.c.segment).distinct())
    pairs = {(c, s) for c, s in zip(present["country"], present["segment"], strict=True)
             if s != UNKNOWN_SEGMENT}
    wanted = {
        "country": lambda c, s: c != ALL_COUNTRIES and s == ALL_SEGMENTS,
        "segment": lambda c, s: c == ALL_COUNTRIES and s != ALL_SEGMENTS,
        "country_segment": lambda c, s: c != ALL_COUNTRIES and s != ALL_SEGMENTS,
    }[spec.granularity]
    return [{"country": c, "segment": s} for c, s in sorted(pairs) if wanted(c, s)]
