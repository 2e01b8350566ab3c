"""Everything one training or scoring run reads, loaded once, with what is missing logged.

`load_dataset` returns None (and logs why) when there is nothing to forecast: no feature
build yet, or no store with sales. Otherwise a `Dataset` whose `frame_at(origin)` is the
store x day frame with sales-weighted promotion exposure computed as of that origin.
`for_measure("revenue")` is the same data with revenue as the target: the models read the
`units` column (frames.TARGET) whatever the measure, so one code path forecasts both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from liftline.features import features_as_of, resolve_as_of

from .base import Log
from .exposure import EXPOSURE_COLUMNS, exposure, promotion_cells, sku_weights
from .inputs import category_days, store_days, unit_economics


@dataclass
class Dataset:
    engine: Engine
    as_of: date
    store_days: pd.DataFrame
    cells: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    measure: str = "units"
    _weights: dict = field(default_factory=dict)
    _categories: pd.DataFrame | None = None
    _categories_since: pd.Timestamp | None = None
    _economics: dict = field(default_factory=dict)

    @property
    def stores(self) -> pd.DataFrame:
        return self.store_days[["store_id", "region", "country"]].drop_duplicates("store_id")

    def store_ids(self, region: str | None = None) -> list[str]:
        stores = self.stores
        if region is not None:
            stores = stores.loc[stores["region"] == region]
        return sorted(stores["store_id"])

    def for_measure(self, measure: str) -> Dataset:
        """This data with `measure` as the target column (`units`)."""
        if measure == self.measure:
            return self
        frame = self.store_days.assign(units=self.store_days[measure])
        return replace(self, store_days=frame, measure=measure, _weights={}, _categories=None,
                       _categories_since=None)

    def measured_store_ids(self, keys: list[str]) -> list[str]:
        """Those of `keys` that sold something in the measure. (A revenue-only store's units
        are unknown on trading days but 0 on days without POS rows, so not "any value".)"""
        history = self.store_days.loc[self.store_days["units"].fillna(0) > 0, "store_id"]
        return sorted(set(keys) & set(history))

    def first_date(self) -> pd.Timestamp:
        return self.store_days["date"].min()

    def weights(self, origin: pd.Timestamp) -> pd.DataFrame:
        key = pd.Timestamp(origin)
        if key not in self._weights:
            self._weights[key] = sku_weights(self.engine, self.store_ids(), key.date(),
                                             self.measure)
        return self._weights[key]

    def frame_at(self, origin: pd.Timestamp) -> pd.DataFrame:
        """Store-days with promotion exposure weighted by the SKU mix known at `origin`."""
        frame = self.store_days
        if self.cells.empty:
            return frame
        found = exposure(self.cells, self.weights(origin))
        frame = frame.merge(found, on=["store_id", "date"], how="left")
        frame[list(EXPOSURE_COLUMNS)] = frame[list(EXPOSURE_COLUMNS)].fillna(0.0)
        return frame

    def category_exposure_at(self, origin: pd.Timestamp) -> pd.DataFrame:
        if self.cells.empty:
            return pd.DataFrame(columns=["store_id", "category", "date", *EXPOSURE_COLUMNS])
        return exposure(self.cells, self.weights(origin), by_category=True)

    def category_days(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """Store x category x day sales from `since` (default: the first day) to as-of.

        Read once; a later call that needs no older days reuses the read (on Walmart the whole
        history is 3.6 million SKU rows).
        """
        first = self.first_date() if since is None else max(pd.Timestamp(since),
                                                             self.first_date())
        if self._categories is None or first < self._categories_since:
            self._categories = category_days(self.engine, self.store_ids(), first.date(),
                                             self.as_of, self.measure)
            self._categories_since = first
        if self._categories.empty:
            return self._categories
        return self._categories.loc[self._categories["date"] >= first]

    def economics(self, stores: list[str]) -> pd.DataFrame:
        """Per-unit stocking costs; none for revenue (no stocking decision: median plan)."""
        if self.measure != "units":
            return pd.DataFrame()
        key = tuple(stores)
        if key not in self._economics:  # one read serves both grains
            self._economics[key] = unit_economics(self.engine, stores, self.as_of)
        return self._economics[key]


def measured_stores(data: Dataset, keys: list[str], where: str, log: Log) -> list[str]:
    """The stores of `keys` with sales in the data's measure; the others are logged."""
    served = data.measured_store_ids(keys)
    lacking = sorted(set(keys) - set(served))
    if lacking:
        shown = ", ".join(lacking[:5]) + (" ..." if len(lacking) > 5 else "")
        log(f"sales forecast in {data.measure} skipped for {len(lacking)} of {len(keys)} stores "
            f"in {where} ({shown}): no {data.measure} in their sales history (a POS extract "
            f"without {data.measure}, or no sale yet)")
    return served


def load_dataset(engine: Engine, as_of: date | str | None, log: Log) -> Dataset | None:
    """The inputs of a forecast run, or None with the reason logged."""
    built = features_as_of(engine)
    if built is None:
        log("sales forecast skipped: feat_sales_store_daily has no sales (deliver pos and "
            "build the features first)")
        return None
    as_of = resolve_as_of(engine, as_of, log)
    frame = store_days(engine, as_of)
    frame = frame.loc[frame["date"] <= pd.Timestamp(built) + pd.Timedelta(days=400)]
    if frame.empty or frame[["units", "revenue"]].notna().to_numpy().sum() == 0:
        log("sales forecast skipped: no store has sales up to the as-of date")
        return None
    notes = _describe_gaps(frame)
    cells = promotion_cells(engine, frame[["store_id", "region"]].drop_duplicates("store_id"))
    if cells.empty and frame["promo_count"].fillna(0).sum() > 0:
        notes.append("promotions could not be mapped to SKUs: promotion exposure is the share "
                     "of SKUs on promotion (unweighted)")
    for note in notes:
        log(f"sales forecast: {note}")
    return Dataset(engine=engine, as_of=as_of, store_days=frame, cells=cells, notes=notes)


def _describe_gaps(frame: pd.DataFrame) -> list[str]:
    notes = []
    history = frame.loc[~frame["is_future"]]
    if history["media_spend"].fillna(0).sum() == 0:
        notes.append("no ad spend delivered: campaign spend is left out of every model")
    if frame["promo_count"].fillna(0).sum() == 0:
        notes.append("no promotions delivered: the models run without promotion drivers")
    elif frame.loc[frame["promo_count"] > 0, "promo_max_discount"].isna().any():
        notes.append("some promotions have no discount_pct: their depth counts as 0, their "
                     "coverage still counts")
    if (frame["holiday_name"] == "").all():
        notes.append("no holiday or event names (events not delivered): closures come only from "
                     "closure events and weekdays a store never trades")
    future = frame.loc[frame["is_future"]]
    if future.empty:
        notes.append("no planned days after the as-of date in feat_sales_store_daily: the "
                     "horizon carries no planned drivers")
    return notes
