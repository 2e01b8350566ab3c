"""A lift test's truth recomputed from the world's channel truth: the revenue its channel loses
over the weeks the test counts (its window, and its post-period), and its spend in the window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from liftline.synth.media import geometric_adstock, hill


def recomputed(test, params: pd.DataFrame, weekly: pd.DataFrame) -> tuple[float, float]:
    """(revenue lost over the counted weeks, spend in the dark weeks) of one lift_tests row;
    `params` is channels.csv indexed by (country, channel), `weekly` media_weekly.csv."""
    wk = weekly[(weekly.country == test.country) & (weekly.channel == test.channel)]
    weeks = pd.to_datetime(wk.week_start)
    start = pd.Timestamp(test.start_date)
    until = test.measured_until if pd.notna(test.measured_until) else test.end_date
    dark = ((weeks >= start) & (weeks <= pd.Timestamp(test.end_date))).to_numpy()
    counted = ((weeks >= start) & (weeks <= pd.Timestamp(until))).to_numpy()
    p = params.loc[(test.country, test.channel)]
    spend = wk.spend.to_numpy()
    off = np.where(dark, 0.0, spend)
    lost = p.beta * (hill(geometric_adstock(spend, p.theta), p.alpha, p.gamma)
                     - hill(geometric_adstock(off, p.theta), p.alpha, p.gamma))
    return float(lost[counted].sum()), float(spend[dark].sum())
