"""The synthetic world: contract shape, determinism, and truth consistent with the extracts."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lift_truth import recomputed

from liftline.contract import CRM_STAGES, SOURCES
from liftline.synth import GenerateError, generate


def read_source(out: Path, source: str) -> pd.DataFrame:
    files = sorted((out / source).glob(f"{source}_*"))
    frames = [pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f) for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate(out, scale="small", seed=7, progress=False)
    return out


@pytest.fixture(scope="module")
def truth(world):
    return lambda name: pd.read_csv(world / "_truth" / name)


def test_same_seed_gives_same_bytes_and_other_seed_differs(world, tmp_path):
    generate(tmp_path / "again", scale="small", seed=7, progress=False)
    assert tree_digest(tmp_path / "again") == tree_digest(world)
    generate(tmp_path / "other", scale="small", seed=8, start=date(2023, 1, 2), days=60,
             progress=False)
    first_pos = sorted((world / "pos").glob("*"))[0].name
    assert (tmp_path / "other" / "pos" / first_pos).read_bytes() != (
        world / "pos" / first_pos).read_bytes()


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_source_has_exactly_the_contract_columns(world, source):
    files = sorted((world / source).glob(f"{source}_*"))
    assert files, f"no {source} extract written"
    contract = SOURCES[source]
    for f in files:
        header = pd.read_csv(f, nrows=0).columns.tolist()
        assert set(contract.required) <= set(header)
        assert set(header) <= set(contract.columns), f"unexpected columns in {f.name}"
        assert header == list(contract.columns)


def test_clean_world_has_no_faults(world):
    assert json.loads((world / "_truth" / "faults.json").read_text()) == []
    assert not list(world.rglob("*_fault_*"))
    for name, src in SOURCES.items():
        frame = read_source(world, name)
        assert not frame.empty, name
        # The contract lets discount_pct be empty when unknown; every other required value is set.
        required = [c for c in src.required if (name, c) != ("promotions", "discount_pct")]
        assert frame[required].notna().all().all(), f"nulls in required {name}"
        key = [c for c in src.natural_key if c in frame]
        assert not frame.duplicated(key).any(), f"duplicate natural keys in {name}"
    assert (read_source(world, "pos")[["units", "revenue"]] >= 0).all().all()
    assert (read_source(world, "erp").amount >= 0).all()
    assert set(read_source(world, "crm").stage) <= set(CRM_STAGES)
    rating = read_source(world, "service").satisfaction_rating.dropna()
    assert rating.between(1, 5).all()


def test_pos_revenue_matches_truth_store_days(world, truth):
    pos = read_source(world, "pos")
    by_day = pos.groupby(["date", "store_id"]).agg(units=("units", "sum"),
                                                   revenue=("revenue", "sum"))
    t = truth("baseline_daily.csv").set_index(["date", "store_id"])
    joined = t.join(by_day, how="left").fillna({"units": 0, "revenue": 0})
    assert np.allclose(joined.units, joined.actual_units)
    assert np.allclose(joined.revenue, joined.actual_revenue, atol=0.01)


def test_revenue_is_baseline_plus_media_plus_promotion_up_to_noise(truth):
    t = truth("baseline_daily.csv")
    parts = t.organic_revenue + t.media_revenue + t.promo_revenue
    assert np.allclose(parts, t.expected_revenue, rtol=1e-6, atol=1e-6)
    assert np.allclose(t.baseline_revenue, t.organic_revenue + t.media_revenue, rtol=1e-6)
    # Realised sales plus what stockouts cost equal expectation up to noise...
    total = (t.actual_revenue.sum() + t.lost_revenue.sum()) / t.expected_revenue.sum()
    assert abs(total - 1) < 0.01
    # ...and store-weeks scatter like Poisson counts with a small shock, not more.
    t["week"] = pd.to_datetime(t.date).dt.to_period("W")
    wk = t.groupby(["store_id", "week"])[["actual_units", "lost_units", "expected_units"]].sum()
    wk = wk[wk.expected_units > 50]
    z = (wk.actual_units + wk.lost_units - wk.expected_units) / np.sqrt(
        wk.expected_units + (0.08 * wk.expected_units) ** 2 / 3)
    assert abs(z.mean()) < 0.2 and 0.6 < z.std() < 1.6


def test_media_revenue_equals_true_channel_contributions(world, truth):
    t = truth("baseline_daily.csv")
    stores = read_source(world, "stores").set_index("store_id")
    t["country"] = t.store_id.map(stores.country)
    t["week_start"] = (pd.to_datetime(t.date) - pd.to_timedelta(
        pd.to_datetime(t.date).dt.dayofweek, unit="D")).dt.strftime("%Y-%m-%d")
    media = t.groupby(["country", "week_start"]).media_revenue.sum()
    weekly = truth("media_weekly.csv")
    contrib = weekly.groupby(["country", "week_start"]).contribution.sum()
    full_weeks = t.groupby("week_start").date.nunique()
    full_weeks = full_weeks[full_weeks == 7].index
    media = media[media.index.get_level_values(1).isin(full_weeks)]
    assert len(media) > 100
    assert np.allclose(media, contrib.reindex(media.index), rtol=1e-6)
    channels = truth("channels.csv")
    per_country = channels[channels.country != "ALL"]
    assert np.allclose(per_country.roi, per_country.contribution / per_country.spend)
    assert set(per_country.channel) == {"tv", "ooh", "online_video", "social", "display",
                                        "search"}
    assert per_country.theta.between(0, 1).all() and (per_country.alpha > 0).all()


def covered_units(pos: pd.DataFrame, stores: pd.DataFrame, products: pd.DataFrame,
                  promo) -> float:
    """Units sold on a promotion's store-SKUs in its window, by the contract's coverage rule."""
    skus = [promo.sku] if isinstance(promo.sku, str) else products.loc[
        products.category == promo.category, "sku"].tolist()
    if isinstance(promo.store_id, str):
        shops = [promo.store_id]
    elif isinstance(promo.region, str):
        shops = stores.loc[stores.region == promo.region, "store_id"].tolist()
    else:
        shops = stores.store_id.tolist()
    m = (pos.sku.isin(skus) & pos.store_id.isin(shops) & (pos.date >= promo.start_date)
         & (pos.date <= promo.end_date))
    return float(pos.loc[m, "units"].sum())


def test_promotion_lift_is_recomputable_from_baseline_and_sales(world, truth):
    pos = read_source(world, "pos")
    stores, products = read_source(world, "stores"), read_source(world, "products")
    promos = read_source(world, "promotions")
    t = truth("promotions.csv")
    done = t[t.status == "completed"]
    assert len(done) > 30
    assert set(t.promo_id) == set(promos.promo_id)
    for p in done.merge(promos[["promo_id"]], on="promo_id").itertuples():
        if p.baseline_units == 0:  # its store or SKU was not trading yet: no lift defined
            assert np.isnan(p.realized_lift_pct)
            continue
        units = covered_units(pos, stores, products, p)
        assert units == pytest.approx(p.actual_units), p.promo_id
        lift = (units - p.baseline_units) / p.baseline_units * 100
        assert lift == pytest.approx(p.realized_lift_pct, abs=1e-2)
    # POS flags promoted lines with their promotion.
    flagged = pos.dropna(subset=["promo_id"]).groupby("promo_id").units.sum()
    assert np.allclose(flagged.reindex(done.promo_id).fillna(0), done.actual_units)
    # Without stockouts, realised lift tracks true lift within Poisson noise.
    big = done[(~done.understocked) & (done.baseline_units > 2000)]
    se = 100 * np.sqrt(big.expected_units) / big.baseline_units
    assert (np.abs(big.realized_lift_pct - big.true_lift_pct) < 5 * se + 3).mean() > 0.9


def test_promotions_behave_as_promised(truth):
    t = truth("promotions.csv")
    assert (t.loc[t.no_effect, "true_lift_pct"] == 0).all()
    assert t.no_effect.any() and t.understocked.any()
    # Deeper price discounts lift more, with diminishing returns.
    disc = t[(t.promo_type == "price_discount") & ~t.no_effect]
    by_depth = disc.groupby("discount_pct").true_lift_pct.median()
    assert by_depth.is_monotonic_increasing or by_depth.iloc[-1] > by_depth.iloc[0]
    done = t[t.status == "completed"]
    assert (done.loc[~done.no_effect, "dip_units"] < 0).mean() > 0.9
    sku_promos = done[done.sku.notna() & ~done.no_effect]
    assert (sku_promos.cannibalized_units < 0).mean() > 0.9
    # Understocked promotions lose sales to empty shelves, visible as realised < true lift.
    under = done[done.understocked & ~done.no_effect]
    assert (under.lost_units > 0).mean() > 0.5
    assert (under.realized_lift_pct < under.true_lift_pct).mean() > 0.7


def test_planned_promotions_are_delivered(world):
    promos = read_source(world, "promotions")
    assert (promos.status == "planned").sum() > 0
    assert (pd.to_datetime(promos.start_date) > pd.Timestamp("2024-12-31")).sum() > 0


def test_funnel_customers_and_service(world, truth):
    crm, erp = read_source(world, "crm"), read_source(world, "erp")
    won = crm[crm.stage == "Closed Won"]
    invoiced = erp.dropna(subset=["opportunity_id"])
    assert set(invoiced.opportunity_id) <= set(crm.opportunity_id)
    lag = (pd.to_datetime(invoiced.invoice_date) - pd.to_datetime(
        invoiced.opportunity_id.map(crm.set_index("opportunity_id").created_date))).dt.days
    assert 60 < lag.median() < 400
    assert len(won) > 20 and crm.campaign_id.notna().mean() > 0.3
    assert set(crm.campaign_id.dropna()) <= set(read_source(world, "spend").campaign_id)
    assert erp.opportunity_id.isna().mean() > 0.5  # most ERP revenue has no campaign
    types = truth("customers.csv")
    consumers = types[types.latent_type != "b2b_account"]
    orders = erp[erp.customer_id.str.startswith("CU-")].groupby("customer_id").size()
    freq = orders.reindex(consumers.customer_id).fillna(0).groupby(
        consumers.set_index("customer_id").latent_type).mean()
    assert freq["champion"] > freq["loyal"] > freq["occasional"]
    svc, p = read_source(world, "service"), truth("service.csv")
    low = svc.merge(p, on="interaction_id").dropna(subset=["satisfaction_rating"])
    # Interactions rated 1-2 had a higher true probability of it.
    assert low[low.satisfaction_rating <= 2].p_low_satisfaction.mean() > \
        low[low.satisfaction_rating >= 3].p_low_satisfaction.mean() + 0.1


def test_lift_tests_are_noisy_truth(truth):
    tests = truth("lift_tests.csv")
    assert len(tests) >= 6 and tests.channel.nunique() == 6
    z = (tests.incremental_revenue - tests.true_incremental_revenue) / tests.std_error
    assert (np.abs(z) < 4).all()


def test_reach_channels_tests_count_a_post_period_and_their_truth_adds_up(world, truth):
    """TV, OOH and online video tests keep counting 8 weeks after their 4 dark weeks (their
    carry-over), digital ones do not; each test's truth is the loss over the weeks it counts."""
    tests = truth("lift_tests.csv")
    extract = read_source(world, "lift_tests")
    assert "measured_until" in extract.columns and len(extract) == len(tests)
    reach = tests.channel.isin(["tv", "ooh", "online_video"])
    post = pd.to_datetime(tests.measured_until) - pd.to_datetime(tests.end_date)
    assert (post[reach] == pd.Timedelta(weeks=8)).all() and tests.measured_until[~reach].isna().all()
    params = truth("channels.csv").set_index(["country", "channel"])
    weekly = truth("media_weekly.csv")
    for t in tests.itertuples():
        lost, spend = recomputed(t, params, weekly)
        assert lost == pytest.approx(t.true_incremental_revenue, rel=1e-4)
        assert spend == pytest.approx(t.spend, abs=0.05)
    # A post-period adds carry-over a window-only test misses.
    window_only = [recomputed(t._replace(measured_until=np.nan), params, weekly)[0]
                   for t in tests[reach].itertuples()]
    assert (tests[reach].true_incremental_revenue.to_numpy() > np.array(window_only)).all()


def test_lift_post_weeks_0_counts_the_dark_weeks_only(tmp_path):
    out = tmp_path / "w"
    generate(out, scale="small", seed=7, start=date(2023, 1, 2), days=400, progress=False,
             lift_post_weeks=0)
    assert pd.read_csv(out / "_truth" / "lift_tests.csv").measured_until.isna().all()
    with pytest.raises(GenerateError, match="--lift-post-weeks 30 is out of range"):
        generate(tmp_path / "bad", scale="small", lift_post_weeks=30, progress=False)


def test_a_slice_is_the_same_world(world, tmp_path):
    out = tmp_path / "slice"
    generate(out, scale="small", seed=7, start=date(2024, 3, 4), days=7, progress=False)
    whole, part = read_source(world, "pos"), read_source(out, "pos")
    window = whole[(whole.date >= "2024-03-04") & (whole.date <= "2024-03-10")]
    key = ["date", "store_id", "sku"]
    part, window = part.astype({"promo_id": str}), window.astype({"promo_id": str})
    pd.testing.assert_frame_equal(part.sort_values(key, ignore_index=True),
                                  window.sort_values(key, ignore_index=True))
    spend_all, spend_part = read_source(world, "spend"), read_source(out, "spend")
    assert len(spend_part) == ((spend_all.date >= "2024-03-04")
                               & (spend_all.date <= "2024-03-10")).sum()


def test_formats_carry_the_same_rows(tmp_path):
    frames = {}
    for fmt in ("csv", "csv.gz", "parquet"):
        out = tmp_path / fmt.replace(".", "_")
        generate(out, scale="small", seed=3, days=40, fmt=fmt, progress=False)
        frames[fmt] = read_source(out, "pos")
    assert len(frames["csv"]) > 1000
    for fmt in ("csv.gz", "parquet"):
        other = frames[fmt].assign(date=frames[fmt].date.astype(str))
        pd.testing.assert_frame_equal(frames["csv"], other, check_dtype=False)


def test_faults_are_listed_and_really_bad(tmp_path):
    out = tmp_path / "faulty"
    generate(out, scale="small", seed=7, days=120, faults=True, progress=False)
    faults = json.loads((out / "_truth" / "faults.json").read_text())
    kinds = {f["kind"] for f in faults}
    assert kinds >= {"duplicate_rows", "null_required", "wrong_types", "negative_amounts",
                     "unknown_stage", "out_of_range_dates", "renamed_columns", "truncated",
                     "mostly_negative"}
    for f in faults:
        path = out / f["file"]
        assert path.exists(), f
        if f["kind"] == "truncated":
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        bad = frame.iloc[[r - 1 for r in f["rows"]]]
        if f["kind"] == "null_required":
            assert ((bad.spend == "") | (bad.campaign_id == "")).all()
        elif f["kind"] in ("negative_amounts", "mostly_negative"):
            assert (bad.amount.astype(float) < 0).all()
            good = frame.drop(index=bad.index)
            assert (good.amount.astype(float) >= 0).all()
        elif f["kind"] == "unknown_stage":
            assert not bad.stage.isin(CRM_STAGES).any()
        elif f["kind"] == "out_of_range_dates":
            assert ((bad.date < "2000-01-01") | (bad.date > "2090-01-01")).all()
        elif f["kind"] == "duplicate_rows":
            assert frame.duplicated(["date", "store_id", "sku"]).sum() == len(f["rows"])
        elif f["kind"] == "renamed_columns":
            assert "spend" not in frame.columns
    truncated = [f for f in faults if f["kind"] == "truncated"]
    assert all(f["expect"] == "file_quarantined" for f in truncated)
    csv_cut = out / next(f["file"] for f in truncated if f["file"].endswith(".csv"))
    assert not csv_cut.read_bytes().endswith(b"\n")
    with pytest.raises(Exception):  # noqa: B017 - any read error will do: it is unreadable
        pd.read_csv(out / next(f["file"] for f in truncated if f["file"].endswith(".gz")))


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(GenerateError, match="must fall within"):
        generate(tmp_path / "a", start=date(2020, 1, 1), days=5, progress=False)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(GenerateError, match="choose an empty folder"):
        generate(tmp_path / "b", days=3, progress=False)
    assert (tmp_path / "b" / "notes.txt").read_text() == "mine"
