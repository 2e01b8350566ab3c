"""Media's effect on store sales, from the fitted mix models (`liftline.mmm`).

Each country is answered by the mix model fitted for it (`mmm/<country>/all`), else by the
whole-business model (`mmm/ALL/all`). A model's weekly contribution of a channel is its own
curve: beta x Hill(adstock(spend); alpha, inflexion), with the fitted adstock (theta, or the
Weibull shape and scale) and the inflexion fixed at the fit's, as `liftline.mmm.transforms`
computes it. Spend before the plan is the actual weekly spend of the 52 weeks before its start
(weeks after the spend extract ends are filled from the same weeks a year earlier), so the
plan's first weeks carry the adstock of what was already spent.

The whole-business model sees every country's spend summed per channel. Its contribution of a
channel in a week is split between countries by their share of the channel's adstocked spend
that week (adstock is linear, so the shares add up): a country that spends nothing on a channel
gets none of its effect, as in a world whose media works where it is bought. The total is the
model's either way.

The mix model's revenue is its spec's `target`: POS + ERP revenue by default. The stores' part
of a contribution is the country's POS share of that target over the 52 weeks before the plan
(1 for `revenue_pos`, 0 for `revenue_erp`): media lifts the ERP business too, and only the
store part belongs to store sales.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from liftline import registry
from liftline.mmm import HillSaturation, load_spec, make_adstock, model_name
from liftline.warehouse import read_frame, table

from .history import SPEND_COLUMNS, YEAR, has_table, weekly_spend
from .types import PlanRequest

ALL = "ALL"
CARRY_WEEKS = 52  # spend before the plan whose adstock reaches into it
STORE_SHARE_WEEKS = 52


@dataclass(frozen=True)
class MixModel:
    """One fitted mix model's media curves (arrays per channel in `channels` order)."""

    name: str
    version: str
    status: str
    channels: tuple[str, ...]
    adstock: str
    adstock_params: dict[str, np.ndarray]
    alpha: np.ndarray
    inflexion: np.ndarray
    beta: np.ndarray
    target: str
    l_max: int = 13

    @classmethod
    def from_params(cls, version: registry.Version, params: dict, l_max: int) -> MixModel:
        channels = tuple(params["channels"])
        per = [params["channels"][c] for c in channels]
        kind = params.get("adstock", "geometric")
        names = ("theta",) if kind == "geometric" else ("shape", "scale")
        return cls(name=version.model, version=version.version, status=version.status,
                   channels=channels, adstock=kind,
                   adstock_params={n: np.array([float(p[n]) for p in per]) for n in names},
                   alpha=np.array([float(p["alpha"]) for p in per]),
                   inflexion=np.array([float(p["hill_inflexion"]) for p in per]),
                   beta=np.array([float(p["beta"]) for p in per]),
                   target=params.get("target", "revenue"), l_max=l_max)

    def adstocked(self, spend: np.ndarray) -> np.ndarray:
        """(T, C) weekly spend in `channels` order -> (T, C) adstocked spend."""
        return make_adstock(self.adstock, self.l_max).apply(spend, **self.adstock_params)

    def contribution(self, spend: np.ndarray) -> np.ndarray:
        """(T, C) weekly revenue credited to each channel."""
        saturation = HillSaturation.at_inflexion(self.adstocked(spend), self.alpha,
                                                 self.inflexion)
        return saturation * self.beta


@dataclass
class MediaResponse:
    """The mix model answering each country, the stores' share of it, and the spend before
    the plan that carries over into it."""

    models: dict[str, MixModel]  # fit country (a country, or ALL) -> model
    answered_by: dict[str, str]  # country -> fit country
    store_share: dict[str, float]  # country -> POS share of the model's target revenue
    before: pd.DataFrame  # SPEND_COLUMNS of the CARRY_WEEKS before the plan
    weeks: pd.DatetimeIndex  # the plan's weeks

    def countries_sharing_a_model(self) -> list[list[str]]:
        """The countries the whole-business model answers together (two or more): it sees
        their spend summed."""
        shared = sorted(c for c, key in self.answered_by.items() if key == ALL)
        return [shared] if len(shared) > 1 else []

    def contributions(self, media: pd.DataFrame) -> pd.DataFrame:
        """Store revenue per country x plan week credited to media (country, week_start,
        contribution) for the plan's spend `media` (MEDIA_COLUMNS), carry-over included."""
        spend = pd.concat([self.before, media[SPEND_COLUMNS]], ignore_index=True)
        spend["week_start"] = pd.to_datetime(spend["week_start"])
        frames = [self._of_model(key, model, spend) for key, model in self.models.items()]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["country", "week_start", "contribution"])
        out = out.astype({"contribution": float})
        return out.sort_values(["country", "week_start"], kind="mergesort").reset_index(
            drop=True)

    def _of_model(self, key: str, model: MixModel, spend: pd.DataFrame) -> pd.DataFrame:
        countries = [c for c, k in self.answered_by.items() if k == key]
        weeks = pd.date_range(self.weeks[0] - pd.Timedelta(weeks=CARRY_WEEKS), self.weeks[-1],
                              freq="7D")
        fed = spend if key == ALL else spend.loc[spend["country"] == key]
        per_country = {c: _matrix(fed.loc[fed["country"] == c], model.channels, weeks)
                       for c in sorted(fed["country"].unique())}
        total = sum(per_country.values(), np.zeros((len(weeks), len(model.channels))))
        contribution = model.contribution(total)
        adstock_total = model.adstocked(total)
        plan = weeks >= self.weeks[0]
        rows = []
        for country in countries:
            if country not in per_country:
                weekly = np.zeros(int(plan.sum()))
            else:
                mine = model.adstocked(per_country[country])
                share = np.divide(mine, adstock_total, out=np.zeros_like(mine),
                                  where=adstock_total > 0)
                weekly = (share * contribution).sum(axis=1)[plan]
            rows.append(pd.DataFrame({"country": country, "week_start": weeks[plan],
                                      "contribution": weekly * self.store_share[country]}))
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["country", "week_start", "contribution"])


    def evaluator(self, pairs: list[tuple[str, str]], countries: list[str],
                  revenue: np.ndarray) -> MediaEvaluator:
        """The uplift of plan spend laid out as (pair, week), pairs being (country, channel),
        in numpy: per (country in `countries`, week) the contribution over `revenue` (the
        countries' base revenue per plan week; no uplift where it is 0). The same numbers as
        `contributions`, computed from parts that do not depend on the plan's spend."""
        weeks = pd.date_range(self.weeks[0] - pd.Timedelta(weeks=CARRY_WEEKS), self.weeks[-1],
                              freq="7D")
        plan = np.asarray(weeks >= self.weeks[0])
        before = self.before.assign(week_start=pd.to_datetime(self.before["week_start"]))
        row_of = {c: i for i, c in enumerate(countries)}
        revenue = np.asarray(revenue, dtype=float)
        parts = []
        for key, model in self.models.items():
            spending = sorted(set(before["country"]) | {c for c, _ in pairs})
            fed = spending if key == ALL else [key]
            answered = [c for c, k in self.answered_by.items() if k == key and c in row_of]
            fed = sorted(set(fed) | set(answered))
            fed_of = {c: i for i, c in enumerate(fed)}
            slots = [(p, fed_of[c], model.channels.index(ch)) for p, (c, ch) in enumerate(pairs)
                     if c in fed_of and ch in model.channels]
            carry = np.stack([model.adstocked(_matrix(before.loc[before["country"] == c],
                                                      model.channels, weeks))[plan]
                              for c in fed]) if fed else np.zeros((0, int(plan.sum()),
                                                                  len(model.channels)))
            rows = np.array([row_of[c] for c in answered], dtype=int)
            share = np.array([self.store_share[c] for c in answered], dtype=float)
            # Store revenue per unit of contribution: the stores' share over the base revenue.
            scale = np.divide(share[:, None], revenue[rows], out=np.zeros((len(rows),
                              revenue.shape[1])), where=revenue[rows] > 0)
            parts.append(_ModelPart(
                model=model, kernel=_adstock_kernel(model, len(weeks), plan), carry=carry,
                pair=np.array([s[0] for s in slots], dtype=int),
                fed=np.array([s[1] for s in slots], dtype=int),
                channel=np.array([s[2] for s in slots], dtype=int),
                rows=rows, answered=np.array([fed_of[c] for c in answered], dtype=int),
                scale=scale))
        return MediaEvaluator(parts=parts, shape=(len(countries), revenue.shape[1]),
                              n_pairs=len(pairs))


@dataclass(frozen=True)
class _ModelPart:
    """One mix model's share of a MediaEvaluator. Fed countries are those whose spend the
    model sees (every spending country for ALL); `answered` are the fed countries it answers,
    written to `rows` of the evaluator's output."""

    model: MixModel
    kernel: np.ndarray  # (C, T, T): plan week s's spend -> adstock in plan week t, per channel
    carry: np.ndarray  # (fed, T, C): adstock of the spend before the plan
    pair: np.ndarray  # planned pairs this model sees ...
    fed: np.ndarray  # ... as which fed country
    channel: np.ndarray  # ... and which of the model's channels
    rows: np.ndarray  # output row of each answered country
    answered: np.ndarray  # its fed index
    scale: np.ndarray  # (answered, T): store share / base revenue

    def adstocked(self, spend: np.ndarray) -> np.ndarray:
        """(fed, T, C) adstock of the plan's (pair, T) spend, carry-over included."""
        x = np.zeros((self.carry.shape[0], self.carry.shape[2], spend.shape[1]))
        np.add.at(x, (self.fed, self.channel), spend[self.pair])
        return self.carry + np.einsum("cts,fcs->ftc", self.kernel, x)

    def per_adstock(self, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contribution per unit of adstock, beta x Hill(S) / S, and its derivative in S, at the
        total adstock S (T, C); 0 where nothing is adstocked (no country gets a share)."""
        m = self.model
        hill = HillSaturation.at_inflexion(total, m.alpha, m.inflexion)
        spent = total > 0
        safe = np.where(spent, total, 1.0)
        value = np.where(spent, m.beta * hill / safe, 0.0)
        # d/dS of beta h / S, with S dh/dS = alpha h (1 - h) (the Hill's elasticity).
        slope = np.where(spent, m.beta * hill * (m.alpha * (1.0 - hill) - 1.0) / safe**2, 0.0)
        return value, slope


@dataclass(frozen=True)
class MediaEvaluator:
    """Uplift (country, week) of plan spend (pair, week), and the gradient of a weighted sum of
    it, for the optimiser: everything that does not depend on the spend is precomputed.

    A country's uplift in week t is scale x sum over channels of a x beta Hill(S) / S, a its
    adstock and S every fed country's (the contribution split by adstock shares). Adstock is
    linear, so d a / d spend is the kernel, and the Hill's derivative is closed form.
    """

    parts: list[_ModelPart]
    shape: tuple[int, int]  # (countries, weeks)
    n_pairs: int

    def uplift(self, spend: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape)
        for part in self.parts:
            adstock = part.adstocked(spend)
            value, _ = part.per_adstock(adstock.sum(axis=0))
            out[part.rows] += part.scale * (adstock[part.answered] * value).sum(axis=-1)
        return out

    def gradient(self, spend: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """d sum(weights x uplift) / d spend, (pair, week); weights (country, week)."""
        grad = np.zeros((self.n_pairs, self.shape[1]))
        for part in self.parts:
            adstock = part.adstocked(spend)
            value, slope = part.per_adstock(adstock.sum(axis=0))
            weight = np.zeros(adstock.shape[:2])  # (fed, T): weights x scale, answered only
            weight[part.answered] = weights[part.rows] * part.scale
            # A country's adstock moves its own share (value) and everyone's S (slope).
            shared = (weight[:, :, None] * adstock).sum(axis=0) * slope  # (T, C)
            by_adstock = weight[:, :, None] * value + shared  # (fed, T, C)
            by_spend = np.einsum("cts,ftc->fcs", part.kernel, by_adstock)
            grad[part.pair] += by_spend[part.fed, part.channel]
        return grad


def _adstock_kernel(model: MixModel, n_weeks: int, plan: np.ndarray) -> np.ndarray:
    """(C, T, T): the adstock in plan week t of one unit spent in plan week s, per channel
    (the model's own transform applied to each week's unit of spend)."""
    first = int(np.argmax(plan))
    n_plan = int(plan.sum())
    kernel = np.zeros((len(model.channels), n_plan, n_plan))
    for s in range(n_plan):
        unit = np.zeros((n_weeks, len(model.channels)))
        unit[first + s] = 1.0
        kernel[:, :, s] = model.adstocked(unit)[plan].T
    return kernel


def _matrix(spend: pd.DataFrame, channels: tuple[str, ...], weeks: pd.DatetimeIndex
            ) -> np.ndarray:
    if spend.empty:
        return np.zeros((len(weeks), len(channels)))
    wide = spend.pivot_table(index="week_start", columns="channel", values="spend",
                             aggfunc="sum")
    return wide.reindex(index=weeks, columns=list(channels)).fillna(0.0).to_numpy(float)


def load_media_response(engine: Engine, request: PlanRequest, countries: list[str], as_of: date,
                        challengers: bool, notes: list[str], missing: list[str]
                        ) -> MediaResponse | None:
    """The mix models answering `countries` (None when none is available: the names go to
    `missing`, the reasons to `notes`)."""
    spec = load_spec()
    found: dict[str, MixModel] = {}
    answered_by: dict[str, str] = {}
    for country in countries:
        for key in (country, ALL):
            if key not in found:
                model = _mix_model(engine, model_name(spec, key, "all"), as_of, challengers,
                                   spec.weibull_l_max, notes)
                if model is not None:
                    found[key] = model
            if key in found:
                answered_by[country] = key
                break
    unanswered = [c for c in countries if c not in answered_by]
    if unanswered:
        missing.append(model_name(spec, ALL, "all"))
        notes.append(f"no mix model answers {', '.join(unanswered)}: media there has no "
                     "effect in the plan (its spend stays as business as usual)")
    if not answered_by:
        return None
    used = {key: found[key] for key in set(answered_by.values())}
    for key, model in sorted(used.items()):
        notes.append(f"media: {model.name} version {model.version} ({model.status}) answers "
                     f"{', '.join(c for c, k in sorted(answered_by.items()) if k == key)}")
    return MediaResponse(models=used, answered_by=answered_by,
                         store_share=_store_shares(engine, used, answered_by, as_of, notes),
                         before=spend_before(engine, request, notes),
                         weeks=request.week_starts)


def _mix_model(engine: Engine, name: str, as_of: date, challengers: bool, l_max: int,
               notes: list[str]) -> MixModel | None:
    version = registry.champion(engine, name, as_of)
    if version is None and challengers:
        latest = [v for v in registry.versions(engine, name) if v.status == registry.CHALLENGER]
        if latest:
            version = latest[0]
            reason = (version.metrics.get("promotion") or {}).get("reason", "not promoted")
            notes.append(f"{name} has no champion: planning with its latest challenger "
                         f"{version.version} ({reason})")
    if version is None:
        return None
    try:
        params = version.load("fit.json")["params"]
    except (FileNotFoundError, KeyError, OSError) as exc:
        notes.append(f"{name} version {version.version}: its fit.json cannot be read ({exc})")
        return None
    return MixModel.from_params(version, params, l_max)


def _store_shares(engine: Engine, models: dict[str, MixModel], answered_by: dict[str, str],
                  as_of: date, notes: list[str]) -> dict[str, float]:
    """Per country, the POS share of its model's target revenue over the last 52 weeks."""
    shares = {}
    sums = _revenue_sums(engine, as_of)
    for country, key in answered_by.items():
        target = models[key].target
        row = sums.get(country, {})
        if target == "revenue_pos":
            shares[country] = 1.0
        elif target == "revenue_erp":
            shares[country] = 0.0
        elif row.get("revenue", 0) > 0:
            shares[country] = float(row["revenue_pos"] / row["revenue"])
        else:
            shares[country] = 1.0
            notes.append(f"media: no POS/ERP revenue of {country} in feat_mmm_weekly: all of "
                         "the mix model's contribution there counts as store sales")
    notes.append("media: the stores' part of the mix model's revenue (POS share of POS + ERP, "
                 "last 52 weeks): " + ", ".join(f"{c} {s:.0%}" for c, s in sorted(shares.items())))
    return shares


def _revenue_sums(engine: Engine, as_of: date) -> dict[str, dict[str, float]]:
    if not has_table(engine, "feat_mmm_weekly"):
        return {}
    feat = table("feat_mmm_weekly")
    first = (pd.Timestamp(as_of) - pd.Timedelta(weeks=STORE_SHARE_WEEKS)).date()
    # One row per week x country x channel repeats the week's revenue: take it once per week.
    weekly = (select(feat.c.country, feat.c.week_start,
                     func.max(feat.c.revenue_pos).label("revenue_pos"),
                     func.max(feat.c.revenue).label("revenue"))
              .where(feat.c.segment == "all", feat.c.week_start.between(first, as_of))
              .group_by(feat.c.country, feat.c.week_start))
    frame = read_frame(engine, weekly)
    sums = frame.groupby("country")[["revenue_pos", "revenue"]].sum()
    return {c: {k: float(v) for k, v in row.items()} for c, row in sums.iterrows()}


def spend_before(engine: Engine, request: PlanRequest, notes: list[str]) -> pd.DataFrame:
    """Weekly spend per country x channel of the CARRY_WEEKS before the plan: actual spend,
    and for weeks after the extract's last day, the same weeks a year earlier."""
    weeks = request.week_starts
    first = weeks[0] - pd.Timedelta(weeks=CARRY_WEEKS)
    spend, last_day = weekly_spend(engine, (first - YEAR).date(),
                                   (weeks[0] - pd.Timedelta(days=1)).date())
    if spend.empty:
        return pd.DataFrame(columns=SPEND_COLUMNS)
    observed = spend.loc[spend["week_start"] >= first]
    last_week = observed["week_start"].max() if not observed.empty else first - pd.Timedelta(
        weeks=1)
    gap = pd.date_range(last_week + pd.Timedelta(weeks=1), weeks[0] - pd.Timedelta(weeks=1),
                        freq="7D")
    if len(gap):
        notes.append(f"media: spend after {last_day} is not delivered; the {len(gap)} week(s) "
                     "before the plan carry last year's spend of the same weeks")
        filled = spend.loc[spend["week_start"].isin(gap - YEAR)].copy()
        filled["week_start"] = filled["week_start"] + YEAR
        observed = pd.concat([observed, filled], ignore_index=True)
    return observed[SPEND_COLUMNS].reset_index(drop=True)
