"""A promotion's increment from the fitted lift model (`liftline.promo`), one SKU x store cell
at a time, measured on the plan's base.

The lift is the champion lift model's prediction on the feature row the recommender builds
(`promo.recommend.score_candidates`: the same features, the same economics in
`promo.candidates.with_economics`). Its baseline is the SKU's recent unpromoted units per day in
the store (`promo.candidates.baseline_rates`), moved to the promotion's week by the store's base
that week over the store's recent level: the increment is measured on sales without media and
without other promotions, in the season it runs in.

Net of dip and cannibalisation: the lift model predicts the promoted SKUs' own lift. The
measured promotions in `ml_promo_lift` say how much of the extra units the post-promotion dip
and the siblings gave back: per category, (dip + cannibalised units) / incremental units of
the completed promotions (all categories pooled when a category has fewer than
MIN_MEASURED; clipped to [-1, 0]). That share of the increment is taken back at the regular
price and margin, as `ml_promo_lift.net_incremental_margin` counts it.

Cost: a delivered promotion's `cost` split evenly over its cells. A new cell's cost is what the
calendar's costs say a promotion costs: cost = fixed cost of its type + a cost per covered store
that depends on what it covers (one SKU, a category, everything: the contract's SKU levels),
fitted by non-negative least squares on the delivered promotions with a cost (0 when none has
one). A new candidate is one SKU in one store: fixed[type] + per_store["sku"].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sqlalchemy import Engine, func, select

from liftline.features import (
    PROMOTION_SKU_LEVELS,
    PROMOTION_STORE_LEVELS,
    promotion_stores,
    read_promotions,
    scope_level,
)
from liftline.promo import (
    Catalogue,
    LiftModel,
    baseline_rates,
    load_catalogue,
    load_lift_model,
    score_candidates,
    with_prices,
)
from liftline.warehouse import read_frame, table

from .history import has_table, monday
from .types import INCREMENT_COLUMNS

MIN_MEASURED = 3  # completed promotions a category needs for its own dip/cannibalisation share
RATE_DAYS = 28  # the store's recent level: units per open day over these days to as-of
PAIR_DAYS = 91  # SKU x store pairs that sold in these days get a baseline


@dataclass
class CostModel:
    """cost of a promotion = fixed[type] + per_store[what it covers] x covered stores."""

    fixed: dict[str, float] = field(default_factory=dict)
    per_store: dict[str, float] = field(default_factory=dict)  # "sku", "category", "all"

    def of(self, promo_type: pd.Series, stores: int = 1, scope: str = "sku") -> np.ndarray:
        """The cost of promotions of `promo_type` covering one `scope` in `stores` stores."""
        default = float(np.mean(list(self.fixed.values()))) if self.fixed else 0.0
        return (promo_type.map(self.fixed).astype(float).fillna(default)
                + stores * self.per_store.get(scope, 0.0)).to_numpy()


@dataclass
class PromotionResponse:
    """Everything a promotion cell's increment reads, loaded once."""

    model: LiftModel
    cat: Catalogue
    rates: pd.DataFrame  # store_id, sku, baseline_units_per_day, price, unit_cost
    store_rate: pd.Series  # store_id -> recent units per open day
    net_share: dict[str, float]  # category -> (dip + cannibalised) / incremental units
    pooled_net_share: float
    costs: CostModel
    week_units: pd.DataFrame | None = None  # store_id, week_start, units: the plan's base

    def increments(self, promotions: pd.DataFrame) -> pd.DataFrame:
        """INCREMENT_COLUMNS per row of `promotions` (PROMOTION_COLUMNS; a `start_date`
        column, where given, is the real start; a `cost` column the row's own cost), in
        order."""
        rows = promotions.reset_index(drop=True).copy()
        if rows.empty:
            return pd.DataFrame(columns=list(INCREMENT_COLUMNS))
        rows["week_start"] = pd.to_datetime(rows["week_start"])
        start = pd.to_datetime(rows["start_date"]) if "start_date" in rows else rows["week_start"]
        candidates = rows[["sku", "store_id", "duration_days", "discount_pct", "promo_type"]
                          ].assign(start_date=start.fillna(rows["week_start"]).to_numpy(),
                                   week_start=rows["week_start"].to_numpy(),
                                   _row=np.arange(len(rows)))
        candidates = candidates.merge(self.rates, on=["store_id", "sku"], how="left")
        candidates["baseline_units_per_day"] = (
            candidates["baseline_units_per_day"].fillna(0.0) * self._season(candidates))
        scored = score_candidates(candidates.drop(columns=["week_start"]), self.model, self.cat)
        scored = scored.set_index("_row").reindex(np.arange(len(rows)))
        out = self._netted(scored.assign(category=_category(rows, self.cat)))
        own_cost = (pd.to_numeric(rows["cost"], errors="coerce") if "cost" in rows
                    else pd.Series(np.nan, index=rows.index))
        out["cost"] = own_cost.fillna(pd.Series(self.costs.of(rows["promo_type"]))).to_numpy()
        for column in ("sku", "store_id", "week_start", "discount_pct", "duration_days",
                       "promo_type"):
            out[column] = rows[column].to_numpy()
        return out[list(INCREMENT_COLUMNS)]

    def _season(self, candidates: pd.DataFrame) -> np.ndarray:
        """The store's base units per day in the promotion's week over its recent level."""
        if self.week_units is None:
            return np.ones(len(candidates))
        level = candidates["store_id"].map(self.store_rate).to_numpy(float)
        week = candidates[["store_id", "week_start"]].merge(
            self.week_units, on=["store_id", "week_start"], how="left")["units"].to_numpy(float)
        factor = np.divide(week / 7, level, out=np.full(len(level), np.nan), where=level > 0)
        return np.where(np.isfinite(factor), factor, 1.0)

    def _netted(self, scored: pd.DataFrame) -> pd.DataFrame:
        """Increments with the category's dip and cannibalisation share taken back."""
        gross_units = scored["expected_incremental_units"].fillna(0.0)
        share = scored["category"].map(self.net_share).astype(float).fillna(
            self.pooled_net_share)
        given_back = gross_units.clip(lower=0) * share
        price, unit_cost = scored["price"].fillna(0.0), scored["unit_cost"].fillna(0.0)
        return pd.DataFrame({
            "incremental_units": (gross_units + given_back).to_numpy(),
            "incremental_revenue": (scored["expected_incremental_revenue"].fillna(0.0)
                                    + given_back * price).to_numpy(),
            "incremental_gross_margin": (scored["expected_incremental_margin"].fillna(0.0)
                                         + given_back * (price - unit_cost)).to_numpy(),
        })


def _category(rows: pd.DataFrame, cat: Catalogue) -> pd.Series:
    return rows["sku"].map(cat.products.drop_duplicates("sku").set_index("sku")["category"])


def load_promotion_response(engine: Engine, as_of: date, stores: list[str],
                            notes: list[str], missing: list[str]) -> PromotionResponse | None:
    """The champion lift model and what its increments read (None when there is none)."""
    model = load_lift_model(engine, as_of)
    if model is None:
        missing.append("promo_lift")
        notes.append("no champion lift model (promo_lift): promotions add nothing in the plan "
                     "and no new promotion is proposed")
        return None
    cat = load_catalogue(engine, as_of)
    pairs = sold_pairs(engine, as_of, stores)
    rates = with_prices(pairs.merge(baseline_rates(engine, pairs, as_of), on=["store_id", "sku"]),
                        cat)
    rates["unit_cost"] = _filled_costs(rates, notes)
    net, pooled = net_shares(engine, notes)
    notes.append(f"promotions: lift model {model.version} ({model.kind}); dip and "
                 f"cannibalisation give back {abs(pooled):.0%} of the extra units on average")
    return PromotionResponse(
        model=model, cat=cat,
        rates=rates[["store_id", "sku", "baseline_units_per_day", "price", "unit_cost"]],
        store_rate=store_rates(engine, as_of), net_share=net, pooled_net_share=pooled,
        costs=fit_costs(engine, cat, notes))


def sold_pairs(engine: Engine, as_of: date, stores: list[str]) -> pd.DataFrame:
    """Store x SKU pairs with a sale in the PAIR_DAYS to as-of."""
    sales = table("feat_sales_daily")
    first = (pd.Timestamp(as_of) - pd.Timedelta(days=PAIR_DAYS - 1)).date()
    return read_frame(engine, select(sales.c.store_id, sales.c.sku).distinct().where(
        sales.c.date.between(first, as_of), sales.c.store_id.in_(stores))).sort_values(
        ["store_id", "sku"], kind="mergesort").reset_index(drop=True)


def store_rates(engine: Engine, as_of: date) -> pd.Series:
    """Units per open day of each store over the RATE_DAYS to as-of."""
    feat = table("feat_sales_store_daily")
    first = (pd.Timestamp(as_of) - pd.Timedelta(days=RATE_DAYS - 1)).date()
    frame = read_frame(engine, select(feat.c.store_id, func.avg(feat.c.units).label("rate"))
                       .where(feat.c.is_future.is_(False), feat.c.is_closed.is_(False),
                              feat.c.date.between(first, as_of))
                       .group_by(feat.c.store_id))
    return frame.set_index("store_id")["rate"].astype(float)


def _filled_costs(rates: pd.DataFrame, notes: list[str]) -> pd.Series:
    """Unit costs, a SKU without one at the median cost share of the priced SKUs."""
    known = rates["unit_cost"].notna() & (rates["price"] > 0)
    if known.all():
        return rates["unit_cost"]
    share = float((rates.loc[known, "unit_cost"] / rates.loc[known, "price"]).median()) \
        if known.any() else 0.0
    notes.append(f"promotions: {int((~known).sum())} store x SKU pair(s) without a unit cost "
                 f"take {share:.0%} of their price")
    return rates["unit_cost"].fillna(rates["price"] * share)


def net_shares(engine: Engine, notes: list[str]) -> tuple[dict[str, float], float]:
    """Per category, the measured (dip + cannibalised) / incremental units of completed
    promotions, and the pooled share (0 when nothing was measured)."""
    if not has_table(engine, "ml_promo_lift"):
        return {}, 0.0
    lift = table("ml_promo_lift")
    frame = read_frame(engine, select(lift.c.category, lift.c.incremental_units,
                                      lift.c.dip_units, lift.c.cannibalized_units)
                       .where(lift.c.status == "completed", lift.c.incremental_units > 0))
    if frame.empty:
        notes.append("promotions: no completed promotion measured yet: increments are not "
                     "netted of dip and cannibalisation")
        return {}, 0.0
    frame["given_back"] = frame["dip_units"].fillna(0) + frame["cannibalized_units"].fillna(0)
    pooled = float(np.clip(frame["given_back"].sum() / frame["incremental_units"].sum(), -1, 0))
    by_cat = frame.groupby("category")
    shares = (by_cat["given_back"].sum() / by_cat["incremental_units"].sum()).clip(-1, 0)
    enough = by_cat.size() >= MIN_MEASURED
    return {str(c): float(s) for c, s in shares[enough].items()}, pooled


def fit_costs(engine: Engine, cat: Catalogue, notes: list[str]) -> CostModel:
    """Fixed cost per promotion type and cost per covered store by SKU level, from the
    delivered calendar."""
    promos = read_promotions(engine, ["promo_id", "start_date", "end_date", "discount_pct",
                                      "sku", "category", "store_id", "region", "promo_type",
                                      "cost"])
    promos = promos.loc[pd.to_numeric(promos["cost"], errors="coerce").notna()]
    if promos.empty:
        notes.append("promotions: no delivered promotion has a cost: new promotions cost 0")
        return CostModel()
    stores = promotion_stores(promos[["promo_id", *PROMOTION_STORE_LEVELS]],
                              cat.stores[["store_id", "region"]]).groupby("promo_id").size()
    promos = promos.assign(stores=promos["promo_id"].map(stores).fillna(0),
                           scope=scope_level(promos, PROMOTION_SKU_LEVELS).fillna("all"),
                           promo_type=promos["promo_type"].fillna("unknown"))
    types, scopes = sorted(promos["promo_type"].unique()), ["sku", "category", "all"]
    design = np.column_stack(
        [(promos["promo_type"] == t).to_numpy(float) for t in types]
        + [(promos["stores"] * (promos["scope"] == k)).to_numpy(float) for k in scopes])
    coef, _ = nnls(design, pd.to_numeric(promos["cost"]).to_numpy(float))
    model = CostModel(fixed=dict(zip(types, map(float, coef[:len(types)]), strict=True)),
                      per_store=dict(zip(scopes, map(float, coef[len(types):]), strict=True)))
    one = model.per_store["sku"]
    notes.append("promotions: a new SKU x store promotion costs "
                 + ", ".join(f"{t} {v + one:,.0f}" for t, v in model.fixed.items())
                 + f" (fixed cost by type + per covered store: SKU {one:,.1f}, category "
                 f"{model.per_store['category']:,.1f}, all {model.per_store['all']:,.1f}; "
                 f"fitted on {len(promos)} delivered promotions)")
    return model


def week_units_of(base: pd.DataFrame) -> pd.DataFrame:
    """store_id, week_start, units of a base frame (what `PromotionResponse.week_units`
    reads)."""
    out = base[["store_id", "week_start", "units"]].copy()
    out["week_start"] = monday(out["week_start"]).to_numpy()
    return out
