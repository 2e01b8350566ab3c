"""Input profiles and the population stability index (no warehouse needed)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from liftline.modeling import column_psi, profile_inputs, psi
from liftline.modeling.profile import current_shares, profile_column

RNG = np.random.default_rng(5)


def test_identical_distributions_have_a_psi_of_zero() -> None:
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    sample = pd.Series(RNG.normal(100, 15, 20_000))
    assert column_psi(profile_column(sample), sample) == pytest.approx(0.0, abs=1e-12)
    # A fresh draw of the same distribution stays far below any alert threshold.
    assert column_psi(profile_column(sample), RNG.normal(100, 15, 5_000)) < 0.02


def test_a_shifted_distribution_has_a_large_psi() -> None:
    profile = profile_column(pd.Series(RNG.normal(100, 15, 20_000)))
    assert column_psi(profile, RNG.normal(100, 15, 500)) < 0.1
    assert column_psi(profile, RNG.normal(130, 15, 500)) > 1.0


def test_empty_bins_give_a_finite_psi() -> None:
    # A bin empty on both sides adds nothing; empty on one side adds a large finite term.
    assert psi([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0
    one_sided = psi([1.0, 0.0], [0.0, 1.0])
    assert math.isfinite(one_sided) and one_sided > 10
    with pytest.raises(ValueError, match="same bins"):
        psi([0.5, 0.5], [1.0])


def test_a_constant_column_is_stable_until_its_value_changes() -> None:
    profile = profile_column(pd.Series([0.0] * 500))
    assert profile["kind"] == "discrete"
    assert column_psi(profile, [0.0] * 50) == 0.0
    assert column_psi(profile, [5.0] * 50) > 10  # all in the "other" bin


def test_a_mostly_zero_column_keeps_zero_as_a_bin_of_its_own() -> None:
    # Spend is zero on dark days: a window where it never pauses is a different population.
    spend = pd.Series(np.where(RNG.random(10_000) < 0.6, 0.0, RNG.gamma(2, 50, 10_000)))
    profile = profile_column(spend)
    assert profile["kind"] == "numeric" and profile["atoms"] == [0.0]
    assert column_psi(profile, spend.sample(2_000, random_state=1)) < 0.05
    assert column_psi(profile, RNG.gamma(2, 50, 500)) > 1.0


def test_missing_values_are_a_bin_of_their_own() -> None:
    profile = profile_column(pd.Series([1.0, 2.0, None, 3.0] * 100))
    expected, actual = current_shares(profile, pd.Series([None] * 10, dtype="float64"))
    assert expected[-1] == pytest.approx(0.25) and actual[-1] == 1.0
    assert column_psi(profile, [None] * 10) > 1.0


def test_categories_unseen_in_training_are_drift() -> None:
    types = pd.Series(["price_discount"] * 60 + ["bogo"] * 30 + ["flyer"] * 10)
    profile = profile_column(types)
    assert profile["kind"] == "categorical"
    assert column_psi(profile, types.sample(50, random_state=2)) < 0.25
    assert column_psi(profile, ["display"] * 30) > 10


def test_no_values_give_no_psi() -> None:
    assert column_psi(profile_column(pd.Series([1.0, 2.0] * 50)), []) is None


def test_profile_inputs_is_json_with_window_scope_and_references() -> None:
    days = pd.date_range("2024-01-01", periods=364)
    stores = [f"S{i}" for i in range(10)]
    frame = pd.DataFrame({
        "date": np.repeat(days, len(stores)),
        "store_id": np.tile(stores, len(days)),
        "units": RNG.normal(100, 10, len(days) * len(stores)),
        # On for four weeks, off for eight: any month differs from the year as a whole.
        "promo_share": np.repeat(np.where((np.arange(len(days)) // 28) % 3 == 0, 0.5, 0.0),
                                 len(stores)),
        "kind": "store",
    })
    found = profile_inputs(frame, ["units", "promo_share", "kind", "absent"],
                           table="feat_sales_store_daily", scope={"store_id": ["S1", "S2"]})
    json.dumps(found, allow_nan=False)
    assert found["window"] == {"start": "2024-01-01", "end": "2024-12-29"}
    assert found["scope"] == {"store_id": ["S1", "S2"]} and found["window_days"] == 28
    assert set(found["columns"]) == {"units", "promo_share", "kind"}
    units, bursty = found["columns"]["units"], found["columns"]["promo_share"]
    assert units["reference_psi"] < 0.25  # ordinary months of a steady column barely move
    assert bursty["reference_psi"] > 1.0  # a month of promotions is far from the year
