"""The next experiment: which channel's geo-holdout lift test would narrow its ROI interval most.

For every channel of every fitted mix model (one per country, segment "all"), and for a grid of
designs (weeks dark x share of the area treated), the expected result of a **go-dark** test:

- treatment: pairs of matched regions (stores when the area has fewer than
  `min_regions` regions), the larger unit of each pair treated; pairs never cross a country,
  because media is bought per country. Matching is on the pre-period's weekly revenue level
  and trend, greedy nearest pairs first (deterministic; ties by name). A design takes the best
  matched pairs until the treated units hold its share of the area's revenue.
- the test's standard error: the pre-period residual of treatment minus scaled control weekly
  revenue (sd and AR(1) autocorrelation), summed over the dark weeks, plus the error of the
  pre-period baseline; divided by the treated share it is the error of the area's incremental
  revenue, the figure a `lift_tests` row carries.
- the screen: the mix model's calibration treats a test as one observation of its channel's
  coefficient, so in ROI units the test's precision is se(incremental) x ROI per unit of
  in-window incremental, and 1/var_post = 1/var_now + 1/var_test (var_now from the bootstrap
  interval read as normal); screen narrowing = 1 - sd_post / sd_now.
- the check by refitting (check_by_refit): the screen is not how the model reads a test (its
  calibration pulls a channel to its tests, and its interval scales with the level a test
  moves it to), so the best design of the `refit_channels` best channels is checked: the mix
  model is refitted with the test's simulated result (the 10th, 50th and 90th percentiles of
  what it expects in the channel's most recent window) added to its lift tests.
  expected_interval_narrowing = the median narrowing; least_interval_narrowing = the least.
- mde = (z_{1-alpha/2} + z_power) x se (2.8 x se at 5% and 80%), in incremental revenue of the
  area over the window; power is that of detecting the model's own in-window incremental.
- test_cost: revenue the treated units lose (in the window and carried over after it) by the
  model's response; acceptable when at most `max_cost_share` of the area's yearly revenue.

Why dark, not doubled: the calibration reads a lift test as the revenue lost with the channel
off in its window (evaluate.unit_lift), so a go-dark test is exactly what the model can use;
a heavy-up measures a marginal return the likelihood has no term for, and its signal
(the next dollars, past the bend of a saturating curve) is smaller for the same weeks.

The recommendation, per fit: among the checked designs of acceptable cost, the one with the
largest spend_share x least_interval_narrowing (the share of the budget whose return becomes
better known, even when the one test's result comes in high); ties go to the cheaper test; none
when its expected narrowing is under `min_narrowing` (5%: refitting alone moves an interval's
width about that much, so the test would not show). Every design is ranked (acceptable ones
first, then checked ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import norm
from sqlalchemy import Connection, Engine, select

from liftline import registry
from liftline.mmm import (
    ALL_COUNTRIES,
    ALL_SEGMENTS,
    LIFT_TEST_COLUMNS,
    HillSaturation,
    MarketingMixModel,
    MMMData,
    MMMFit,
    MMMInputError,
    MMMSpec,
    load_mmm_data,
    load_spec,
    make_adstock,
)
from liftline.warehouse import (
    create_schema,
    read_frame,
    replace_partition,
    table,
    write_transaction,
)

Log = Callable[[str], None]
Bind = Engine | Connection
TABLE = "ml_experiment_recommendations"
WRITTEN, SKIPPED = "written", "skipped"
SCREEN, REFIT = "screen", "refit"  # how expected_interval_narrowing was found


@dataclass(frozen=True)
class ExperimentSettings:
    """The design grid and the rules; defaults are what the scoring task uses."""

    weeks: tuple[int, ...] = (2, 4, 6, 8)  # weeks dark
    treated_shares: tuple[float, ...] = (0.1, 0.25, 0.5)  # least share of the area's revenue
    pre_weeks: int = 52  # weeks of store revenue before the model's last week for matching
    min_regions: int = 4  # an area with fewer regions is tested store by store
    max_cost_share: float = 0.002  # acceptable: lost revenue <= this share of a year's revenue
    min_narrowing: float = 0.05  # a smaller expected narrowing is not worth a test: refitting
    #                              alone moves an interval's width by about this much
    tail_weeks: int = 13  # weeks after the window whose lost carry-over counts in the cost
    alpha: float = 0.05  # two-sided
    power: float = 0.8
    refit_channels: int = 2  # the best design of this many channels is checked by refitting
    # The simulated results of a checked design: these quantiles of the result the model
    # expects (its own incremental, give or take the test's noise), each one refit. Three
    # channels at five quantiles (16 refits) recommended and predicted the same as these 7 on
    # every measured world (plan README).
    refit_quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)

    @property
    def detectable_multiplier(self) -> float:
        """mde / se: z_{1-alpha/2} + z_power (2.80 at the defaults)."""
        return float(norm.ppf(1 - self.alpha / 2) + norm.ppf(self.power))


# --- the mix model, as the experiment needs it ------------------------------------------------


@dataclass(frozen=True)
class MixModel:
    """One fitted mix model: per channel (arrays in `channels` order) its response and ROI."""

    country: str
    run_id: str  # the training run whose rows these are
    weeks: pd.DatetimeIndex  # modelled weeks (Mondays)
    channels: tuple[str, ...]
    spend: np.ndarray  # (T, C) weekly spend
    adstock: str  # geometric / weibull
    l_max: int
    adstock_params: dict[str, np.ndarray]  # name -> (C,)
    alpha: np.ndarray  # Hill shape (C,)
    inflexion: np.ndarray  # Hill inflexion in adstocked spend (C,)
    beta: np.ndarray  # revenue per unit of saturation per week (C,)
    roi: np.ndarray
    roi_lower: np.ndarray
    roi_upper: np.ndarray
    interval: float  # level of [roi_lower, roi_upper]

    @classmethod
    def from_fit(cls, fit, run_id: str = "") -> MixModel:  # noqa: ANN001 - an mmm.MMMFit
        """From an in-memory fit (benchmarks)."""
        adstock = make_adstock(fit.spec.adstock, fit.spec.weibull_l_max)
        return cls(fit.country, run_id, fit.design.weeks, tuple(fit.channels),
                   np.asarray(fit.design.spend, float), fit.spec.adstock,
                   fit.spec.weibull_l_max,
                   {k: np.asarray(fit.hyper[k], float) for k in adstock.param_names},
                   np.asarray(fit.hyper["alpha"], float), np.asarray(fit.inflexion, float),
                   np.asarray(fit.beta, float), np.asarray(fit.roi, float),
                   np.asarray(fit.roi_lower, float), np.asarray(fit.roi_upper, float),
                   fit.spec.interval)

    @property
    def spend_share(self) -> np.ndarray:
        total = self.spend.sum(axis=0)
        return total / total.sum() if total.sum() > 0 else np.zeros(len(total))

    def saturation(self, spend: np.ndarray) -> np.ndarray:
        """Saturation (..., T, C) of weekly spend (..., T, C) under the fitted curves."""
        adstock = make_adstock(self.adstock, self.l_max)
        adstocked = adstock.apply(spend, **self.adstock_params)
        return HillSaturation.at_inflexion(adstocked, self.alpha, self.inflexion)


def mix_models(bind: Bind, spec: MMMSpec | None = None, log: Log = print) -> list[MixModel]:
    """The mix model of each country (segment "all") that has results: the registry's champion,
    else the newest fit with rows (a challenger: said in the log)."""
    spec = spec if spec is not None else load_spec()
    results = table("ml_mmm_channel_results")
    rows = read_frame(bind, select(results).where(results.c.segment == ALL_SEGMENTS))
    models = []
    for country, own in rows.groupby("country", sort=True):
        name = f"{spec.model_name}/{country}/{ALL_SEGMENTS}"
        champion = registry.champion(bind, name)
        runs = set(own["run_id"])
        if champion is not None and champion.run_id in runs:
            run = champion.run_id
        else:
            run = str(own.sort_values(["data_end", "run_id"]).iloc[-1]["run_id"])
            log(f"experiment {country}: no champion mix model has results; using the newest "
                f"fit (run {run}, {own[own.run_id == run]['model_status'].iloc[0]})")
        model = _model_from_rows(bind, spec, str(country), run,
                                 own[own["run_id"] == run].sort_values("channel"))
        if model is None:
            log(f"experiment {country}: feat_mmm_weekly no longer holds the spend of the "
                f"weeks the mix model of run {run} was fitted on; rebuild features and retrain")
            continue
        models.append(model)
    return models


def _model_from_rows(bind: Bind, spec: MMMSpec, country: str, run_id: str,
                     rows: pd.DataFrame) -> MixModel | None:
    """The fitted curves from ml_mmm_channel_results and the weekly spend they were fitted on;
    beta = contribution / the saturation summed over the modelled weeks."""
    channels = tuple(rows["channel"].astype(str))
    start, end = pd.Timestamp(rows["data_start"].iloc[0]), pd.Timestamp(rows["data_end"].iloc[0])
    feat = table("feat_mmm_weekly")
    long = read_frame(bind, select(feat.c.week_start, feat.c.channel, feat.c.spend)
                      .where(feat.c.country == country, feat.c.segment == ALL_SEGMENTS,
                             feat.c.week_start >= start.date(), feat.c.week_start <= end.date()))
    if long.empty:
        return None
    long["week_start"] = pd.to_datetime(long["week_start"])
    spend = (long.pivot_table(index="week_start", columns="channel", values="spend",
                              aggfunc="sum").reindex(columns=list(channels)).fillna(0.0)
             .sort_index())
    geometric = rows["adstock_theta"].notna().all()
    adstock = "geometric" if geometric else "weibull"
    params = ({"theta": rows["adstock_theta"].to_numpy(float)} if geometric else
              {"shape": rows["adstock_shape"].to_numpy(float),
               "scale": rows["adstock_scale"].to_numpy(float)})
    model = MixModel(country, run_id, pd.DatetimeIndex(spend.index), channels,
                     spend.to_numpy(float), adstock, spec.weibull_l_max, params,
                     rows["hill_alpha"].to_numpy(float), rows["hill_inflexion"].to_numpy(float),
                     np.ones(len(channels)), rows["roi"].to_numpy(float),
                     rows["roi_lower"].to_numpy(float), rows["roi_upper"].to_numpy(float),
                     spec.interval)
    saturation = model.saturation(model.spend).sum(axis=0)
    beta = np.where(saturation > 0, rows["contribution"].to_numpy(float)
                    / np.where(saturation > 0, saturation, 1.0), 0.0)
    return replace(model, beta=beta)


# --- the store panel and the matched designs --------------------------------------------------


@dataclass(frozen=True)
class StorePanel:
    """Weekly POS revenue (weeks x unit) of the area's units before the test, and their
    country."""

    unit: str  # "region" or "store"
    revenue: pd.DataFrame  # index week_start, one column per unit
    country: pd.Series  # unit -> country

    @property
    def yearly_revenue(self) -> float:
        return float(self.revenue.to_numpy().sum() * 52.0 / max(len(self.revenue), 1))


def store_panel(bind: Bind, country: str, last_week: pd.Timestamp,
                settings: ExperimentSettings) -> StorePanel | None:
    """The area's stores (every store for "ALL") over the `pre_weeks` weeks up to `last_week`,
    as regions when there are at least `min_regions` of them; stores without revenue in every
    week (opened, closed or refitted meanwhile) are left out. None when nothing is left."""
    feat = table("feat_sales_store_daily")
    first = last_week - pd.Timedelta(weeks=settings.pre_weeks - 1)
    query = (select(feat.c.date, feat.c.store_id, feat.c.region, feat.c.country, feat.c.revenue)
             .where(feat.c.is_future.is_(False), feat.c.date >= first.date(),
                    feat.c.date <= (last_week + pd.Timedelta(days=6)).date()))
    if country != ALL_COUNTRIES:
        query = query.where(feat.c.country == country)
    daily = read_frame(bind, query)
    if daily.empty:
        return None
    days = pd.to_datetime(daily["date"])
    daily["week_start"] = days - pd.to_timedelta(days.dt.weekday, unit="D")
    weekly = daily.pivot_table(index="week_start", columns="store_id", values="revenue",
                               aggfunc="sum").reindex(pd.date_range(first, last_week, freq="7D"))
    complete = weekly.columns[(weekly.fillna(0.0) > 0).all(axis=0)]
    if len(complete) < 2:
        return None
    weekly = weekly[complete].astype(float)
    places = daily.drop_duplicates("store_id").set_index("store_id").loc[complete]
    regions = places["region"].fillna(places["country"].astype(str) + "-?")
    if regions.nunique() >= settings.min_regions:
        by_region = weekly.T.groupby(regions).sum().T
        country_of = places.groupby(regions)["country"].first()
        return StorePanel("region", by_region, country_of.astype(str))
    return StorePanel("store", weekly, places["country"].astype(str))


@dataclass(frozen=True)
class Design:
    """Treated and control units of one test, and the noise of their difference."""

    treatment: tuple[str, ...]
    control: tuple[str, ...]
    treated_share: float  # of the area's revenue (and, assumed proportional, of its spend)
    sigma: float  # weekly sd of treatment - scaled control, pre-period residual
    rho: float  # its lag-1 autocorrelation (clipped to [0, 0.9])
    pre_weeks: int

    def treated_se(self, weeks: int) -> float:
        """Standard error of the treated units' incremental revenue summed over `weeks`: the
        AR(1) variance of an L-week sum, plus L^2 times the variance of the pre-period mean."""
        lags = np.arange(1, weeks)
        sum_var = weeks + 2.0 * float(((weeks - lags) * self.rho ** lags).sum())
        mean_var = (1 + self.rho) / (1 - self.rho) / self.pre_weeks
        return float(self.sigma * np.sqrt(sum_var + weeks**2 * mean_var))

    def area_se(self, weeks: int) -> float:
        """The same, for the area's incremental revenue (the treated result / treated share)."""
        return self.treated_se(weeks) / self.treated_share


def matched_pairs(panel: StorePanel) -> list[tuple[str, str]]:
    """(treated, control) pairs within a country, closest first on standardised log level
    and relative trend of weekly revenue; the larger unit of a pair is treated."""
    revenue = panel.revenue
    t = np.arange(len(revenue), dtype=float)
    level = revenue.mean(axis=0)
    slope = revenue.apply(lambda col: np.polyfit(t, col.to_numpy(), 1)[0]) / level
    features = pd.DataFrame({"level": np.log(level), "trend": slope})
    features = (features - features.mean()) / features.std(ddof=0).replace(0.0, 1.0)
    candidates = []
    units = sorted(revenue.columns)
    for i, a in enumerate(units):
        for b in units[i + 1:]:
            if panel.country[a] == panel.country[b]:
                distance = float(np.hypot(*(features.loc[a] - features.loc[b])))
                candidates.append((round(distance, 12), a, b))
    pairs, used = [], set()
    for _, a, b in sorted(candidates):
        if a in used or b in used:
            continue
        used |= {a, b}
        pairs.append((a, b) if level[a] >= level[b] else (b, a))
    return pairs


def designs(panel: StorePanel, settings: ExperimentSettings) -> list[Design]:
    """One design per treated share: the best matched pairs, in order, until the treated units
    hold that share of the area's revenue (the same prefix twice is one design)."""
    pairs = matched_pairs(panel)
    total = float(panel.revenue.to_numpy().sum())
    found: dict[int, Design] = {}
    for share in sorted(settings.treated_shares):
        taken, treated = 0, 0.0
        while taken < len(pairs) and treated < share * total:
            treated += float(panel.revenue[pairs[taken][0]].sum())
            taken += 1
        if taken and taken not in found:
            found[taken] = _design(panel, pairs[:taken], total)
    return list(found.values())


def _design(panel: StorePanel, pairs: list[tuple[str, str]], total: float) -> Design:
    treated = panel.revenue[[t for t, _ in pairs]].sum(axis=1)
    control = panel.revenue[[c for _, c in pairs]].sum(axis=1)
    scaled = control * treated.sum() / control.sum()
    residual = (treated - scaled).to_numpy()
    residual = residual - residual.mean()
    sigma = float(residual.std(ddof=1))
    rho = float(np.corrcoef(residual[:-1], residual[1:])[0, 1]) if sigma > 0 else 0.0
    rho = float(np.clip(np.nan_to_num(rho), 0.0, 0.9))
    return Design(tuple(sorted(t for t, _ in pairs)), tuple(sorted(c for _, c in pairs)),
                  float(treated.sum() / total), sigma, rho, len(residual))


# --- what the model expects a test to find ----------------------------------------------------


@dataclass(frozen=True)
class DarkWeeks:
    """The model's answer for one channel going dark for `weeks` weeks in the whole area,
    averaged over the recent windows in which the channel spent every week."""

    weeks: int
    incremental: float  # revenue lost inside the window (what a lift test measures)
    lost: float  # lost inside and after the window (the cost)
    spend: float  # spend in the window
    roi_per_incremental: float  # ROI units per unit of in-window incremental revenue


def dark_windows(model: MixModel, channel: int, weeks: int, settings: ExperimentSettings
                 ) -> list[int]:
    """Start weeks of the most recent year's windows in which the channel spent every one of
    `weeks` weeks, leaving `tail_weeks` after each for the carry-over."""
    active = model.spend[:, channel] > 0
    last_start = len(model.spend) - weeks - settings.tail_weeks
    return [s for s in range(max(last_start + 1, 0)) if active[s: s + weeks].all()][-52:]


def saturation_lost(model: MixModel, channel: int, start: int, weeks: int,
                    on: np.ndarray | None = None) -> np.ndarray:
    """(T,) the channel's saturation lost in every week when it goes dark for `weeks` weeks
    from week `start` (times beta: revenue); `on` is its saturation as spent, if known."""
    on = model.saturation(model.spend)[:, channel] if on is None else on
    off = model.spend.copy()
    off[start: start + weeks, channel] = 0.0
    return on - model.saturation(off)[:, channel]


def dark_weeks(model: MixModel, channel: int, weeks: int, settings: ExperimentSettings
               ) -> DarkWeeks | None:
    """None when the channel never spent `weeks` weeks running (no window to test in)."""
    spend = model.spend
    starts = dark_windows(model, channel, weeks, settings)
    if not starts:
        return None
    on = model.saturation(spend)[:, channel]
    incremental, lost, window_spend = [], [], []
    for s in starts:
        delta = saturation_lost(model, channel, s, weeks, on)
        incremental.append(delta[s: s + weeks].sum())
        lost.append(delta[s: s + weeks + settings.tail_weeks].sum())
        window_spend.append(spend[s: s + weeks, channel].sum())
    beta, unit = model.beta[channel], float(np.mean(incremental))
    total_spend = spend[:, channel].sum()
    roi_per = on.sum() / total_spend / unit if unit > 0 and total_spend > 0 else np.inf
    return DarkWeeks(weeks, beta * unit, beta * float(np.mean(lost)),
                     float(np.mean(window_spend)), float(roi_per))


def interval_sd(lower: float, upper: float, level: float) -> float:
    """The sd of a normal whose central `level` interval is as wide as [lower, upper]."""
    return (upper - lower) / (2.0 * float(norm.ppf(0.5 + level / 2.0)))


def posterior_narrowing(sd_now: float, sd_test: float) -> float:
    """1 - sd_post / sd_now with 1/var_post = 1/var_now + 1/var_test (0 when the test adds
    nothing, 1 when the interval was already a point or the test is exact)."""
    if not np.isfinite(sd_test):
        return 0.0
    if sd_now <= 0 or sd_test <= 0:
        return 1.0 if sd_test <= 0 else 0.0
    return 1.0 - sd_test / float(np.hypot(sd_now, sd_test))


def expected_interval(roi: float, lower: float, upper: float, narrowing: float
                      ) -> dict[str, float]:
    """The interval after the test: the current one's centre and asymmetry, `narrowing`
    narrower."""
    return {"expected_roi_lower": roi - (roi - lower) * (1 - narrowing),
            "expected_roi_upper": roi + (upper - roi) * (1 - narrowing)}


def power_two_sided(effect: float, se: float, alpha: float) -> float:
    """Power of a two-sided z-test at level `alpha` to detect a true `effect` with error `se`."""
    if se <= 0:
        return 1.0
    z, ratio = float(norm.ppf(1 - alpha / 2)), abs(effect) / se
    return float(norm.cdf(ratio - z) + norm.cdf(-ratio - z))


def evaluate_designs(model: MixModel, panel: StorePanel, settings: ExperimentSettings
                     ) -> pd.DataFrame:
    """One row per channel x weeks x design, with the rank and the recommendation."""
    found = designs(panel, settings)
    budget = settings.max_cost_share * panel.yearly_revenue
    share = model.spend_share
    rows = []
    for c, channel in enumerate(model.channels):
        sd_now = interval_sd(model.roi_lower[c], model.roi_upper[c], model.interval)
        for weeks in sorted(settings.weeks):
            dark = dark_weeks(model, c, weeks, settings)
            if dark is None:
                continue
            for number, design in enumerate(found, start=1):
                se = design.area_se(weeks)
                narrowing = posterior_narrowing(sd_now, se * dark.roi_per_incremental)
                cost = design.treated_share * dark.lost
                rows.append({
                    "country": model.country, "channel": channel, "design": number,
                    "unit": panel.unit, "treatment": ",".join(design.treatment),
                    "control": ",".join(design.control), "weeks": weeks,
                    "treated_share": design.treated_share, "test_se": se,
                    "mde": settings.detectable_multiplier * se,
                    "expected_incremental": dark.incremental,
                    "power": power_two_sided(dark.incremental, se, settings.alpha),
                    "expected_interval_narrowing": narrowing,
                    "screen_interval_narrowing": narrowing, "narrowing_method": SCREEN,
                    "least_interval_narrowing": np.nan,
                    "roi_now": model.roi[c],
                    "roi_lower_now": model.roi_lower[c], "roi_upper_now": model.roi_upper[c],
                    **expected_interval(model.roi[c], model.roi_lower[c],
                                        model.roi_upper[c], narrowing),
                    "spend_share": share[c], "window_spend": dark.spend,
                    "test_cost": cost, "cost_acceptable": bool(cost <= budget),
                    "score": share[c] * narrowing, "model_run_id": model.run_id,
                })
    return rank_designs(pd.DataFrame(rows), settings.min_narrowing)


def rank_designs(frame: pd.DataFrame, min_narrowing: float = 0.0) -> pd.DataFrame:
    """Rank 1..n per country: acceptable cost first, then designs checked by refitting, then
    the larger score, the cheaper test, then channel, weeks and design (deterministic); rank 1
    is recommended if its cost is acceptable and it narrows the interval by at least
    `min_narrowing`."""
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype=int), recommended=pd.Series(dtype=bool))
    ordered = frame.assign(_unacceptable=~frame["cost_acceptable"].astype(bool),
                           _unchecked=frame["narrowing_method"] != REFIT,
                           _score=-frame["score"].round(12))
    ordered = ordered.sort_values(["country", "_unacceptable", "_unchecked", "_score",
                                   "test_cost", "channel", "weeks", "design"], kind="mergesort")
    ordered["rank"] = ordered.groupby("country").cumcount() + 1
    ordered["recommended"] = ((ordered["rank"] == 1) & ordered["cost_acceptable"]
                              & (ordered["expected_interval_narrowing"] >= min_narrowing))
    return ordered.drop(columns=["_unacceptable", "_unchecked", "_score"]).reset_index(drop=True)


# --- the screen checked by refitting the mix model --------------------------------------------

Refit = Callable[[pd.DataFrame], "MMMFit"]  # lift tests -> the mix model refitted with them


def simulated_results(model: MixModel, row: pd.Series, design: Design,
                      settings: ExperimentSettings) -> pd.DataFrame:
    """The lift_tests rows the design would report in the channel's most recent test window:
    the `refit_quantiles` of the model's own incremental revenue of the area there plus the
    test's normal noise."""
    c = model.channels.index(row["channel"])
    weeks = int(row["weeks"])
    s = dark_windows(model, c, weeks, settings)[-1]
    expected = model.beta[c] * saturation_lost(model, c, s, weeks)[s: s + weeks].sum()
    se = design.area_se(weeks)
    return pd.DataFrame([{"channel": row["channel"], "start_date": model.weeks[s],
                          "end_date": model.weeks[s] + pd.Timedelta(days=7 * weeks - 1),
                          "incremental_revenue": expected + float(norm.ppf(q)) * se,
                          "spend": float(model.spend[s: s + weeks, c].sum()), "std_error": se,
                          "measured_until": pd.NaT} for q in settings.refit_quantiles],
                        columns=list(LIFT_TEST_COLUMNS))


def interval_width(fit: MMMFit, channel: str) -> float:
    i = list(fit.channels).index(channel)
    return float(fit.roi_upper[i] - fit.roi_lower[i])


def refit_candidates(frame: pd.DataFrame, channels: int) -> list[int]:
    """Index labels of the best acceptable design (by the screen's rank) of each of the
    `channels` best channels."""
    acceptable = frame[frame["cost_acceptable"].astype(bool)].sort_values("rank")
    return list(acceptable.drop_duplicates("channel").index[:channels])


def check_by_refit(frame: pd.DataFrame, model: MixModel, found: list[Design], tests: pd.DataFrame,
                   refit: Refit, settings: ExperimentSettings, log: Log = print,
                   base: MMMFit | None = None) -> pd.DataFrame:
    """The screen's best designs, checked the way the mix model will read the test: refit
    with each simulated result added to `tests` and measure the channel's interval against
    `base` (the refit without them). The expected narrowing becomes the median over the
    results, the score uses the least (least_interval_narrowing); the screen's narrowing stays
    as screen_interval_narrowing. Re-ranked (checked designs first)."""
    labels = (refit_candidates(frame, settings.refit_channels) if settings.refit_quantiles
              else [])
    if not labels:
        return frame
    base = base if base is not None else refit(tests)
    for number, label in enumerate(labels, start=1):
        row = frame.loc[label]
        log(f"experiment {model.country}: checking {row['channel']} {row['weeks']} weeks dark in "
            f"{row['treated_share']:.0%} of revenue by refitting the mix model "
            f"{len(settings.refit_quantiles)} times ({number}/{len(labels)})")
        widths = [interval_width(refit(pd.concat([tests, result.to_frame().T],
                                                 ignore_index=True)), row["channel"])
                  for _, result in simulated_results(model, row, found[int(row["design"]) - 1],
                                                     settings).iterrows()]
        now = interval_width(base, row["channel"])
        narrowings = 1.0 - np.asarray(widths) / now if now > 0 else np.zeros(len(widths))
        narrowing = float(np.median(narrowings))
        log(f"experiment {model.country}: {row['channel']}: interval narrowed "
            + ", ".join(f"{n:.0%}" for n in narrowings) + f" (median {narrowing:.0%})")
        frame.loc[label, ["expected_interval_narrowing", "narrowing_method"]] = [narrowing, REFIT]
        frame.loc[label, "least_interval_narrowing"] = float(narrowings.min())
        # Ranked by the least narrowing: a vague test's result that comes in high moves the
        # channel's level up and its interval (which scales with the level) wider, and a
        # marketer runs the test once.
        frame.loc[label, "score"] = row["spend_share"] * float(narrowings.min())
        for column, value in expected_interval(row["roi_now"], row["roi_lower_now"],
                                               row["roi_upper_now"], narrowing).items():
            frame.loc[label, column] = value
    return rank_designs(frame.drop(columns=["rank", "recommended"]), settings.min_narrowing)


# --- the warehouse entry point ----------------------------------------------------------------

CHECKED_COLUMNS = ("expected_interval_narrowing", "narrowing_method", "least_interval_narrowing",
                   "score", "expected_roi_lower", "expected_roi_upper")


def _checked(bind: Bind, run_id: str, spec: MMMSpec, model: MixModel, found: list[Design],
             frame: pd.DataFrame, settings: ExperimentSettings, log: Log) -> pd.DataFrame:
    """check_by_refit on the mix model's own inputs, or the checks an earlier scoring run made
    for the same mix-model run (they depend on nothing else); the screen alone, said in the log,
    when the inputs cannot be read."""
    earlier = earlier_checks(bind, run_id, model)
    if not earlier.empty:
        log(f"experiment {model.country}: reusing the refit checks of scoring run "
            f"{earlier['run_id'].iloc[0]} (same mix model, run {model.run_id})")
        return reuse_checks(frame, earlier, settings)
    if settings.refit_channels <= 0 or not settings.refit_quantiles:
        return frame
    try:
        data = _inputs_of(bind, spec, model)

        def refit(tests: pd.DataFrame) -> MMMFit:
            return MarketingMixModel(spec, log=_silent).fit(replace(data, lift_tests=tests)).fit_

        return check_by_refit(frame, model, found, data.lift_tests, refit, settings, log)
    except MMMInputError as exc:
        log(f"experiment {model.country}: the screen's narrowing is kept unchecked: {exc}")
        return frame


def _silent(_: str) -> None:
    pass


def _inputs_of(bind: Bind, spec: MMMSpec, model: MixModel) -> MMMData:
    """The mix model's inputs over the weeks it was fitted on (features may have grown since)."""
    data = load_mmm_data(bind, spec, model.country)
    first, last = model.weeks[0], model.weeks[-1]

    def within(frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
        return frame if frame.empty else frame.loc[first:last]

    return replace(data, spend=within(data.spend), revenue=within(data.revenue),
                   controls=within(data.controls))


def earlier_checks(bind: Bind, run_id: str, model: MixModel) -> pd.DataFrame:
    """The refit-checked rows of one other scoring run for the same mix-model run (any one:
    the same model, panel and settings give the same checks)."""
    target = table(TABLE)
    rows = read_frame(bind, select(target).where(
        target.c.country == model.country, target.c.model_run_id == model.run_id,
        target.c.narrowing_method == REFIT, target.c.run_id != run_id))
    return rows[rows["run_id"] == rows["run_id"].max()] if not rows.empty else rows


def reuse_checks(frame: pd.DataFrame, earlier: pd.DataFrame, settings: ExperimentSettings
                 ) -> pd.DataFrame:
    """`frame` with the checked columns of the matching designs of `earlier`, re-ranked."""
    key = ["channel", "weeks", "design", "treatment", "control"]
    frame = frame.drop(columns=["rank", "recommended"]).set_index(key)
    checked = earlier.set_index(key)[list(CHECKED_COLUMNS)]
    checked = checked[checked.index.isin(frame.index)]
    frame.loc[checked.index, list(CHECKED_COLUMNS)] = checked
    return rank_designs(frame.reset_index(), settings.min_narrowing)


@dataclass(frozen=True)
class ExperimentOutcome:
    status: str  # written / skipped
    reason: str = ""
    rows: int = 0
    recommended: list[dict] = field(default_factory=list)

    def line(self) -> str:
        if self.status == SKIPPED:
            return f"experiment: skipped: {self.reason}"
        chosen = "; ".join(_spoken(r) for r in self.recommended) or (
            "none (no test of acceptable cost would narrow an ROI interval enough; the best "
            "designs are ranked in the table)")
        return f"experiment: {self.rows} designs written; recommended: {chosen}"


def _spoken(row: dict) -> str:
    return (f"{row['country']} {row['channel']} dark {row['weeks']} weeks in "
            f"{row['treatment']} (control {row['control']}): interval "
            f"{row['expected_interval_narrowing']:.0%} narrower, mde {row['mde']:,.0f}, "
            f"power {row['power']:.0%}, cost {row['test_cost']:,.0f}")


def recommend_experiments(engine: Engine, run_id: str,
                          settings: ExperimentSettings | None = None,
                          spec: MMMSpec | None = None, log: Log = print) -> ExperimentOutcome:
    """Evaluate every design for every mix model's channels and replace this run's rows of
    ml_experiment_recommendations; skipped (rows cleared, reason logged) without a mix model
    or a store panel."""
    settings = settings if settings is not None else ExperimentSettings()
    spec = spec if spec is not None else load_spec()
    create_schema(engine)
    models = mix_models(engine, spec, log)
    frames, reasons = [], []
    for model in models:
        panel = store_panel(engine, model.country, model.weeks[-1], settings)
        if panel is None:
            reasons.append(f"{model.country}: no two stores with POS revenue in each of the "
                           f"{settings.pre_weeks} weeks before the model's last week")
            log(f"experiment {reasons[-1]}")
            continue
        frame = evaluate_designs(model, panel, settings)
        if frame.empty:
            reasons.append(f"{model.country}: no two {panel.unit}s of one country to match, or "
                           f"no channel spent {min(settings.weeks)} weeks running")
            log(f"experiment {reasons[-1]}")
        else:
            frame = _checked(engine, run_id, spec, model, designs(panel, settings), frame,
                             settings, log)
        frames.append(frame)
    frames = [f for f in frames if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with write_transaction(engine) as conn:
        rows = replace_partition(conn, table(TABLE), frame, {"run_id": run_id})
    if not models:
        outcome = ExperimentOutcome(SKIPPED, "no mix model has results (ml_mmm_channel_results "
                                    "is empty for segment 'all'): train the mmm family first")
    elif frame.empty:
        outcome = ExperimentOutcome(SKIPPED, "; ".join(reasons) or "no channel can be tested")
    else:
        chosen = frame[frame["recommended"]].to_dict("records")
        outcome = ExperimentOutcome(WRITTEN, rows=rows, recommended=chosen)
    log(outcome.line())
    return outcome
