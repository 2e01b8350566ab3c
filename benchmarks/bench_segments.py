"""Customer-segments benchmark: latent types, real purchase behaviour, and speed.

Not a test: prints numbers. Every data set goes through the real ingest and feature build
(`liftline.ingest`, `liftline.features`) and the stage functions `train_segments` and
`score_segments`.

(a) Synthetic world (`--scale small`, or `--world DIR`): the `customers`, `erp`, `crm` and
    `service` extracts only (a valid world without POS: the as-of falls back to the latest
    feat_customer snapshot). Adjusted Rand index of the segments against the latent consumer
    types in `_truth/customers.csv`, where the b2b accounts land, and, for scale, the ARI a
    supervised classifier reaches from the same features (cross-validated): how far apart the
    latent types are at all.
(b) UCI Online Retail sample (/work/shared/data/online_retail_sample, CC BY 4.0, Chen, Sain &
    Guo 2012), mapped into `customers` and `erp` extracts: one invoice per InvoiceNo with
    amount = sum of Quantity x UnitPrice over its lines; cancellations (InvoiceNo "C...") are
    dropped, as are lines with a negative quantity or price (the ERP contract has no negative
    amounts, and the 40k-line sample rarely holds both the sale and its cancellation);
    invoices without CustomerID are kept without a customer (revenue nobody is assigned).
    Segments are fitted on the first 9 months; per segment, its share of customers and of the
    revenue of the following 3 months, beside the RFM-quintile grouping with as many groups,
    and the between-group share of that revenue's variance per customer. The value model runs
    with a 91-day horizon here (the data ends 3 months later) and its error on that revenue is
    printed beside "same as last period".
(c) Fit + score time on 100k synthetic customers (median of 3).

    python benchmarks/bench_segments.py [--world DIR] [--scale small|medium] [--skip a,b,c]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

RETAIL = Path("/work/shared/data/online_retail_sample/online_retail_40k.csv.gz")
SYNTH_SOURCES = ("customers", "erp", "crm", "service")
QUIET = {"log": lambda _: None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="reuse a generated world")
    parser.add_argument("--scale", default="small", choices=("small", "medium"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a,b,c")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = Path(tempfile.mkdtemp(prefix="bench_segments_"))
    os.environ["LIFTLINE_HOME"] = str(work / "home")
    os.environ["LIFTLINE_REGISTRY_URL"] = str(work / "registry")
    try:
        if "a" not in skip:
            synthetic_ari(work / "synthetic", args.world, args.scale, args.seed)
        if "b" not in skip:
            online_retail(work / "retail")
        if "c" not in skip:
            timing(100_000)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- shared: deliver extracts, ingest, build feat_customer ---------------------------------


def warehouse_from(extracts: dict[str, Path], work: Path, as_of: date | None = None):
    """Ingest the extract folders (source -> folder of files) and build feat_customer."""
    from liftline.features import build_features
    from liftline.ingest import DIMENSION_SOURCES, ingest_source
    from liftline.warehouse import create_schema, get_engine

    home = work / "home"
    for source, folder in extracts.items():
        shutil.copytree(folder, home / "landing" / source)
    engine = get_engine(f"sqlite:///{work / 'warehouse.db'}")
    create_schema(engine)
    started = time.perf_counter()
    order = [s for s in DIMENSION_SOURCES if s in extracts] + [
        s for s in extracts if s not in DIMENSION_SOURCES]
    for source in order:
        ingest_source(source, home=home, engine=engine, settle_seconds=0, run_id="bench", **QUIET)
    ingested = time.perf_counter() - started
    build_features(engine, run_id="bench", as_of=as_of, tables=["feat_customer"], **QUIET)
    print(f"  ingest {ingested:.1f} s, feat_customer {time.perf_counter() - started - ingested:.1f}"
          " s")
    return engine


def scored_segments(engine, run_id: str):  # noqa: ANN001, ANN201
    from sqlalchemy import select

    from liftline.warehouse import read_frame, table

    t = table("ml_customer_segments")
    return read_frame(engine, select(t).where(t.c.run_id == run_id))


# --- (a) synthetic ARI -----------------------------------------------------------------------


def synthetic_ari(work: Path, world: Path | None, scale: str, seed: int) -> None:
    from sklearn.metrics import adjusted_rand_score

    from liftline.customers import score_segments, train_segments

    print(f"\n(a) synthetic world ({world or scale}): segments against the latent types")
    if world is None:
        from liftline.synth import generate

        world = work / "world"
        generate(world, scale=scale, seed=seed, progress=False)
    engine = warehouse_from({s: world / s for s in SYNTH_SOURCES if (world / s).is_dir()}, work)
    started = time.perf_counter()
    trained = train_segments(engine, "bench-train", **QUIET)
    scored = score_segments(engine, "bench-score", **QUIET)
    print(f"  train + score {time.perf_counter() - started:.1f} s; k={trained['k']}; "
          f"segments {trained['segments']}; rows {scored['rows']}")
    truth = pd.read_csv(world / "_truth" / "customers.csv", dtype=str)
    both = scored_segments(engine, "bench-score").merge(truth, on="customer_id")
    consumers = both[both.latent_type != "b2b_account"]
    ari = adjusted_rand_score(consumers.latent_type, consumers.segment)
    print(f"  ARI on {len(consumers)} consumers: {ari:.3f} (goal >= 0.6)")
    print(f"  ceiling: a supervised classifier on the same features reaches ARI "
          f"{supervised_ceiling(engine, truth):.3f} (5-fold cross-validated)")
    table = pd.crosstab(both.latent_type, both.segment)
    print("  latent type x segment:\n" + _indent(table.to_string()))
    accounts = both[both.latent_type == "b2b_account"].segment.value_counts()
    print("  b2b accounts land in: " + ", ".join(f"{k} {v}" for k, v in accounts.items()))
    _print_training(trained)


def supervised_ceiling(engine, truth: pd.DataFrame) -> float:  # noqa: ANN001
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import adjusted_rand_score
    from sklearn.model_selection import cross_val_predict

    from liftline.customers import load_segment_spec
    from liftline.warehouse import read_frame, table

    snapshot = read_frame(engine, table("feat_customer"))
    frame = snapshot.merge(truth, on="customer_id")
    frame = frame[frame.latent_type != "b2b_account"]
    features = frame[load_segment_spec().section("segments")["features"]].astype(float)
    guess = cross_val_predict(HistGradientBoostingClassifier(max_iter=100, random_state=0),
                              features, frame.latent_type, cv=5)
    return adjusted_rand_score(frame.latent_type, guess)


def _print_training(trained: dict) -> None:
    print(f"  backtest: unexplained share of next-period revenue variance "
          f"{_f(trained.get('unexplained_share'))} vs RFM quintiles "
          f"{_f(trained.get('rfm_unexplained_share'))}")
    value = trained.get("value", {})
    tried = ", ".join(f"{k} {_f(v, 1)}" for k, v in (value.get("candidates") or {}).items())
    print(f"  value backtest RMSE per customer: {tried}; same as last period "
          f"{_f(value.get('baseline_rmse'), 1)}; kept {value.get('kind')} "
          f"({value.get('registry_status')})")


# --- (b) online retail -----------------------------------------------------------------------


def retail_extracts(out: Path) -> dict[str, Path]:
    """The sample as `customers` and `erp` extracts (see the module docstring)."""
    lines = pd.read_csv(RETAIL, dtype={"InvoiceNo": str, "CustomerID": str, "StockCode": str})
    cancelled = lines.InvoiceNo.str.startswith("C")
    kept = lines[~cancelled & (lines.Quantity > 0) & (lines.UnitPrice >= 0)]
    kept = kept.assign(amount=kept.Quantity * kept.UnitPrice,
                       customer_id=kept.CustomerID.str.replace(r"\.0$", "", regex=True),
                       invoice_date=pd.to_datetime(kept.InvoiceDate).dt.date.astype(str))
    invoices = kept.groupby("InvoiceNo", as_index=False).agg(
        invoice_date=("invoice_date", "first"), amount=("amount", "sum"),
        customer_id=("customer_id", "first"), country=("Country", "first"),
        quantity=("Quantity", "sum"))
    invoices = invoices.rename(columns={"InvoiceNo": "invoice_id"}).assign(
        amount=lambda f: f.amount.round(2))
    # The sample has no customer master: a customer is known from their first invoice on
    # (signup_date), so a snapshot never lists someone who only turns up later.
    customers = (invoices.dropna(subset=["customer_id"]).groupby("customer_id", as_index=False)
                 .agg(country=("country", "first"), signup_date=("invoice_date", "min")))
    for source, frame in (("erp", invoices), ("customers", customers)):
        (out / source).mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / source / f"{source}.csv", index=False)
    print(f"  {len(lines)} lines: {int(cancelled.sum())} cancellation lines dropped, "
          f"{int(((lines.Quantity <= 0) | (lines.UnitPrice < 0)).sum() - cancelled.sum())} other "
          f"negative lines dropped; {len(invoices)} invoices, "
          f"{int(invoices.customer_id.isna().sum())} without a customer; {len(customers)} "
          "customers")
    return {"customers": out / "customers", "erp": out / "erp"}


def online_retail(work: Path) -> None:
    from liftline.customers import load_segment_spec, rfm_groups, score_segments, train_segments
    from liftline.customers.inputs import read_snapshot
    from liftline.features import customer_revenue

    print("\n(b) UCI Online Retail sample (CC BY 4.0): 9 months to fit, the next 3 to judge")
    fit_end, judge_end = date(2011, 8, 31), date(2011, 11, 30)
    engine = warehouse_from(retail_extracts(work / "extracts"), work, as_of=fit_end)
    spec = load_segment_spec()
    spec = dataclasses.replace(spec, value={**spec.section("value"), "horizon_days": 91})
    trained = train_segments(engine, "retail-train", as_of=fit_end, spec=spec, **QUIET)
    score_segments(engine, "retail-score", as_of=fit_end, spec=spec, **QUIET)
    rows = scored_segments(engine, "retail-score")
    later = customer_revenue(engine, fit_end, judge_end).set_index("customer_id").revenue
    rows = rows.assign(later=later.reindex(rows.customer_id).fillna(0.0).to_numpy())
    snapshot = read_snapshot(engine, fit_end).set_index("customer_id").loc[rows.customer_id]
    groups = rows.segment.nunique()
    rows["rfm_group"] = rfm_groups(snapshot.reset_index(), groups).to_numpy()
    print(f"  {len(rows)} customers as of {fit_end}; k={trained.get('k')}; "
          f"revenue {rows.later.sum():,.0f} in ({fit_end}, {judge_end}]")
    print(_share_table(rows, "segment", "segment"))
    print(_share_table(rows, "rfm_group", f"RFM-quintile score group (of {groups})"))
    seg, rfm = _between_share(rows.later, rows.segment), _between_share(rows.later,
                                                                           rows.rfm_group)
    print(f"  between-group share of the later revenue's variance per customer: segments "
          f"{seg:.3f}, RFM quintiles {rfm:.3f} ({'segments' if seg > rfm else 'RFM'} explain "
          "more)")
    expected = rows.expected_revenue_6m.fillna(0.0)
    before = customer_revenue(engine, fit_end - timedelta(days=91), fit_end).set_index(
        "customer_id").revenue.reindex(rows.customer_id).fillna(0.0).to_numpy()
    for name, guess in ((f"value model ({trained['value'].get('kind')})", expected),
                        ("same as last period", before)):
        error = np.asarray(guess) - rows.later.to_numpy()
        print(f"  {name:<28} on the next 91 days' revenue per customer: RMSE "
              f"{np.sqrt(np.mean(error ** 2)):8.1f}  MAE {np.mean(np.abs(error)):7.1f}  total "
              f"{np.sum(guess):10,.0f} (actual {rows.later.sum():,.0f})")
    _print_training(trained)


def _share_table(rows: pd.DataFrame, by: str, title: str) -> str:
    grouped = rows.groupby(by).agg(customers=("customer_id", "size"), later=("later", "sum"))
    grouped = grouped.assign(customer_share=grouped.customers / grouped.customers.sum(),
                             revenue_share=grouped.later / grouped.later.sum(),
                             revenue_per_customer=grouped.later / grouped.customers)
    grouped = grouped.sort_values("revenue_per_customer", ascending=False)
    lines = [f"  {title:<34}{'customers':>10}{'share':>8}{'later rev share':>17}"
             f"{'per customer':>14}"]
    for name, r in grouped.iterrows():
        lines.append(f"  {name!s:<34}{r.customers:>10.0f}{r.customer_share:>8.1%}"
                     f"{r.revenue_share:>17.1%}{r.revenue_per_customer:>14.1f}")
    return "\n".join(lines)


def _between_share(values: pd.Series, groups: pd.Series) -> float:
    from liftline.customers import unexplained_share

    return 1 - unexplained_share(values.reset_index(drop=True), groups.reset_index(drop=True))


# --- (c) timing ------------------------------------------------------------------------------


def synthetic_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` customers as feat_customer rows with purchase histories, from five behaviours."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(5, n, p=[0.1, 0.2, 0.3, 0.25, 0.15])
    frequency = np.maximum(0, rng.poisson(np.array([25, 12, 4, 2, 0.3])[kinds]))
    aov = np.array([40, 25, 20, 60, 20])[kinds] * rng.lognormal(0, 0.4, n)
    tenure = rng.uniform(30, 2000, n)
    invoices = frequency + rng.poisson(frequency + 0.5)
    return pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)], "frequency": frequency.astype(float),
        "recency_days": np.where(invoices > 0, rng.exponential(365 / (frequency + 1)), np.nan),
        "monetary": frequency * aov, "avg_order_value": np.where(frequency > 0, aov, np.nan),
        "tenure_days": tenure, "invoices": invoices.astype(float),
        "purchase_days": invoices.astype(float),
        "first_purchase": pd.Timestamp("2024-12-31") - pd.to_timedelta(tenure, unit="D"),
        "last_purchase": pd.Timestamp("2024-12-31") - pd.to_timedelta(
            np.nan_to_num(rng.exponential(365 / (frequency + 1))), unit="D"),
        "revenue": invoices * aov})


def timing(n: int) -> None:
    from liftline.customers import (
        BgNbdValue,
        BoostedValue,
        assign_segments,
        load_segment_spec,
        rule_segment,
        value_rows,
    )
    from liftline.customers.pipeline import segment_model

    print(f"\n(c) fit + score on {n:,} synthetic customers (median of 3; 2 shared cores)")
    frame = synthetic_frame(n)
    snapshot = frame.drop(columns=["invoices", "purchase_days", "first_purchase",
                                   "last_purchase", "revenue"])
    purchases = frame[["customer_id", "invoices", "purchase_days", "first_purchase",
                       "last_purchase", "revenue"]]
    spec = load_segment_spec()
    ever = frame.invoices
    clustered = snapshot[rule_segment(snapshot, ever).isna()]
    rows = value_rows(snapshot, purchases, date(2024, 12, 31))
    target = rows.revenue_ever.to_numpy() / 3
    steps = {
        "segments fit (k search 3-8, 3 resamples each)":
            lambda: segment_model(spec).fit(clustered),
        "BG/NBD + Gamma-Gamma fit": lambda: BgNbdValue(182).fit(rows),
        "LightGBM fit (300 trees)": lambda: BoostedValue().fit(rows, target),
    }
    fitted = {}
    for name, call in steps.items():
        fitted[name], seconds = _median_of_3(call)
        print(f"  {name:<48}{seconds:7.2f} s")
    model = fitted["segments fit (k search 3-8, 3 resamples each)"]
    bgnbd = fitted["BG/NBD + Gamma-Gamma fit"]
    _, seconds = _median_of_3(lambda: (assign_segments(model, snapshot, ever),
                                       bgnbd.predict(rows)))
    print(f"  {'score: assign segments + expected value':<48}{seconds:7.2f} s  (k={model.k_})")


def _median_of_3(call):  # noqa: ANN001, ANN202
    times, result = [], None
    for _ in range(3):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def _f(value, digits: int = 3) -> str:  # noqa: ANN001
    return "n/a" if value is None else f"{value:.{digits}f}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


if __name__ == "__main__":
    main()
