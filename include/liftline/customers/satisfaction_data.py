"""The satisfaction model's rows, from `feat_service_interaction`, as the desk saw them at an as-of.

Every feature is what was known when the interaction opened (the feature table's point-in-time
columns), plus two the stage derives without looking forward:

- `days_since_previous_contact`: from the customer's interactions opened before this one;
- `hours_open`: how long the interaction has been open at a daily scoring (the end of a day).

Its handling time, close, rating and any later interaction are never features. The label is
the rating (<= 2) once the interaction closed and was rated by the as-of.

The rows a model serves are "scoring moments": an interaction at the end of each day it is
still open. For training, a closed interaction yields the moments it was open at (its handling
hours say which), so `hours_open` is learnt exactly as scoring sees it.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from liftline.warehouse import read_frame, table

NUMERIC = ("hour", "weekday", "repeat_contact_30d", "prior_contacts", "prior_mean_rating",
           "prior_low_share", "order_value_30d", "last_order_days_late",
           "days_since_previous_contact")
CATEGORICAL = ("interaction_type", "channel")
AT_OPEN = NUMERIC + CATEGORICAL  # the base model's features
HOURS_OPEN = "hours_open"
LABEL = "low_satisfaction"
DAY = pd.Timedelta(days=1)


def read_interactions(engine: Engine, as_of: date) -> pd.DataFrame:
    """Interactions opened by `as_of`, with the derived features and, if known by then, the label.

    The feature table may have been built at a later as-of: a close after the end of `as_of`
    is undone here, so a rerun of a past date sees what that day saw.
    """
    feat = table("feat_service_interaction")
    query = select(feat).where(feat.c.opened_date <= as_of)
    frame = read_frame(engine, query).drop(columns=["run_id"], errors="ignore")
    return as_seen_at(with_previous_contact(frame), as_of)


def with_previous_contact(frame: pd.DataFrame) -> pd.DataFrame:
    """Days since the customer's previous interaction (NaN for a first contact)."""
    opened = pd.to_datetime(frame.opened_at)
    order = opened.sort_values(kind="stable").index
    previous = opened.loc[order].groupby(frame.customer_id.loc[order]).shift()
    gap = (opened - previous.reindex(frame.index)).dt.total_seconds() / 86400
    return frame.assign(opened_at=opened, days_since_previous_contact=gap)


def as_seen_at(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """`frame` with `closed_at` and the label as known at the end of `as_of`."""
    end = day_end(as_of)
    hours = pd.to_numeric(frame.handling_hours).astype("float64")
    closed_at = frame.opened_at + pd.to_timedelta(hours, unit="h")
    closed = frame.is_closed.astype(bool) & hours.notna() & (closed_at < end)
    label = frame.label_low_satisfaction.where(closed)
    return frame.assign(
        handling_hours=hours.where(closed),
        closed_at=closed_at.where(closed),
        is_closed=closed,
        **{LABEL: label.map({True: 1.0, False: 0.0}).astype("float64")},
    )


def labelled(frame: pd.DataFrame, as_of: date, settle_days: int) -> pd.DataFrame:
    """Closed, rated interactions opened at least `settle_days` before the end of `as_of`.

    The newest interactions are left out: their long ones are still open, so the closed ones
    would teach that recent contacts are short and happy.
    """
    last = pd.Timestamp(as_of) - pd.Timedelta(days=settle_days)
    keep = frame[LABEL].notna() & (pd.to_datetime(frame.opened_date) <= last)
    return frame.loc[keep].reset_index(drop=True)


def open_at(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Interactions still open at the end of `as_of`, with their `hours_open` then."""
    rows = frame.loc[~frame.is_closed].reset_index(drop=True)
    hours = (day_end(as_of) - rows.opened_at).dt.total_seconds() / 3600
    return rows.assign(**{HOURS_OPEN: hours, "scored_at_day": pd.Timestamp(as_of)})


def scoring_moments(frame: pd.DataFrame, max_open_days: int) -> pd.DataFrame:
    """One row per closed interaction and day end it was still open at (up to `max_open_days`).

    A day end at which it had closed is not a moment: the daily scoring would not have seen it
    open. `scored_at_day` is the day whose end the moment is.
    """
    hours = frame.handling_hours.to_numpy(dtype=float)
    first_end = (pd.to_datetime(frame.opened_date) + DAY - frame.opened_at)
    first_hours = first_end.dt.total_seconds().to_numpy() / 3600
    counts = np.where(hours >= first_hours, np.floor((hours - first_hours) / 24) + 1, 0)
    counts = np.minimum(np.nan_to_num(counts), max_open_days).astype(int)
    index = np.repeat(np.arange(len(frame)), counts)
    step = np.arange(index.size) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = frame.iloc[index].reset_index(drop=True)
    return rows.assign(**{HOURS_OPEN: first_hours[index] + 24 * step},
                       scored_at_day=pd.to_datetime(rows.opened_date)
                       + pd.to_timedelta(step, unit="D"))


def day_end(day: date) -> pd.Timestamp:
    """Midnight after `day`: the daily scoring's moment."""
    return pd.Timestamp(day + timedelta(days=1))
