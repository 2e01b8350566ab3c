"""`liftline generate`: build the world, write a slice of it as extracts, and write its truth."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from liftline.contract import SOURCES
from liftline.synth import b2b, people
from liftline.synth.calendar import calendar_effects, holiday_events
from liftline.synth.config import (
    CATEGORIES,
    DIP_DAYS,
    EPOCH,
    FORMATS,
    LIFT_DISCOUNT_SCALE,
    LIFT_MAX,
    PLANNING_HORIZON_DAYS,
    SCALES,
    SCENARIOS,
    SUNDAY_CLOSED,
    Scale,
    Scenario,
)
from liftline.synth.demand import (
    BASE_UNITS,
    DemandContext,
    organic_list_revenue,
    simulate_chunk,
    store_chunks,
)
from liftline.synth.dimensions import (
    MACRO_ELASTICITY,
    days_between,
    make_dimensions,
    make_macro,
)
from liftline.synth.faults import inject_faults
from liftline.synth.media import (
    demand_driver,
    geo_lift_tests,
    geometric_adstock,
    hill,
    lift_tests,
    make_media,
)
from liftline.synth.promos import make_promotions
from liftline.synth.writer import ExtractWriter

GENERATOR_VERSION = 1
TRUTH_DIR = "_truth"


class GenerateError(ValueError):
    """A user mistake in the generate arguments; the message says what to do."""


@dataclass
class Window:
    first: date
    last: date  # inclusive
    i0: int  # day index of `first` from EPOCH
    i1: int  # exclusive


@dataclass
class Summary:
    out: Path
    scale: str
    seed: int
    window: Window
    rows: dict[str, int]
    files: dict[str, int]
    facts: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def text(self) -> str:
        w = self.window
        lines = [
            f"Liftline synthetic world: scale={self.scale} seed={self.seed} "
            f"{w.first} .. {w.last} ({w.i1 - w.i0} days) in {self.seconds:.1f} s",
            f"  extracts in {self.out}/<source>/, ground truth in {self.out}/{TRUTH_DIR}/",
            "",
            f"  {'source':<12}{'files':>7}{'rows':>12}",
        ]
        for name in SOURCES:
            lines.append(f"  {name:<12}{self.files.get(name, 0):>7}{self.rows.get(name, 0):>12,}")
        lines.append("")
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)


def resolve_window(scale: Scale, start: date | None, days: int | None) -> Window:
    first = start or EPOCH
    n = days if days is not None else scale.history_days
    if n < 1:
        raise GenerateError(f"--days must be at least 1, got {n}")
    last = first + timedelta(days=n - 1)
    if first < EPOCH or last > scale.last_day:
        raise GenerateError(
            f"--start/--days must fall within the {scale.name} world, {EPOCH} .. "
            f"{scale.last_day}; got {first} .. {last}"
        )
    i0 = (first - EPOCH).days
    return Window(first, last, i0, i0 + n)


def prepare_out_dir(out: Path) -> None:
    """Refuse to mix a world into a folder of other files; replace an earlier world."""
    out.mkdir(parents=True, exist_ok=True)
    ours = set(SOURCES) | {TRUTH_DIR}
    others = [p.name for p in out.iterdir() if p.name not in ours]
    if others:
        raise GenerateError(
            f"--out {out} holds other files ({', '.join(sorted(others)[:3])}); "
            "choose an empty folder"
        )
    for name in ours:
        if (out / name).exists():
            shutil.rmtree(out / name)


def generate(out: Path | str, scale: str = "small", seed: int = 42, start: date | None = None,
             days: int | None = None, faults: bool = False, fmt: str = "csv",
             progress: bool = True, scenario: str = "standard",
             lift_post_weeks: int | None = None) -> Summary:
    """Write a slice of the world as extracts in out/<source>/ and its truth in out/_truth/.

    `lift_post_weeks` overrides the scenario's post-period of reach channels' lift tests."""
    t_start = time.perf_counter()
    if scale not in SCALES:
        raise GenerateError(f"unknown --scale {scale!r}: choose small, medium or large")
    if scenario not in SCENARIOS:
        raise GenerateError(f"unknown --scenario {scenario!r}: choose "
                            f"{' or '.join(SCENARIOS)}")
    if fmt not in FORMATS:
        raise GenerateError(f"unknown --format {fmt!r}: choose csv, csv.gz or parquet")
    if lift_post_weeks is not None and not 0 <= lift_post_weeks <= 26:
        raise GenerateError(f"--lift-post-weeks {lift_post_weeks} is out of range: "
                            "give 0 (the test's window only) to 26 weeks")
    world_scenario = SCENARIOS[scenario]
    if lift_post_weeks is not None:
        world_scenario = replace(world_scenario, lift_post_weeks=lift_post_weeks)
    sc = SCALES[scale]
    window = resolve_window(sc, start, days)
    out = Path(out)
    prepare_out_dir(out)

    world = build_world(sc, seed, world_scenario)
    writer = ExtractWriter(out, fmt)
    truth = out / TRUTH_DIR
    truth.mkdir(parents=True, exist_ok=True)
    facts = write_store_sales(world, window, writer, truth, progress)
    write_small_sources(world, window, writer)
    facts |= write_truth(world, window, truth)
    writer.close()
    fault_list = inject_faults(out, window, fmt, seed) if faults else []
    (truth / "faults.json").write_text(json.dumps(fault_list, indent=2, default=str) + "\n")
    if faults:
        facts["faults injected"] = len(fault_list)

    rows, files = dict(writer.rows), {k: len(v) for k, v in writer.files.items()}
    for f in fault_list:
        if f.get("new_file"):
            files[f["source"]] = files.get(f["source"], 0) + 1
    if scenario != "standard":
        facts["scenario"] = scenario
    return Summary(out, scale, seed, window, rows, files, facts,
                   seconds=time.perf_counter() - t_start)


@dataclass
class World:
    scale: Scale
    seed: int
    days: pd.DatetimeIndex
    dims: object
    macro: pd.DataFrame
    promos: pd.DataFrame
    ctx: DemandContext
    media: object
    funnel: b2b.Funnel
    people: people.People
    invoices: pd.DataFrame
    lift_tests: pd.DataFrame
    scenario: Scenario = SCENARIOS["standard"]
    driver: dict[str, np.ndarray] | None = None  # country -> hidden weekly log-demand driver


def build_world(sc: Scale, seed: int, scenario: Scenario = SCENARIOS["standard"]) -> World:
    """Everything but store sales: those are simulated and streamed chunk by chunk."""
    days = days_between(EPOCH, sc.last_day)
    dims = make_dimensions(sc, seed)
    cats = CATEGORIES[: sc.categories]
    calendar = {c: calendar_effects(days, c, cats) for c in dims.countries}
    weeks = days[::7]
    macro = make_macro(dims.countries, weeks, seed)
    week_of_day = np.arange(len(days)) // 7
    macro_mult = {
        c: ((macro[macro.country == c].economic_index.to_numpy() / 100) ** MACRO_ELASTICITY)[
            week_of_day]
        for c in dims.countries
    }
    driver = None
    if scenario.driver_sd > 0:  # hidden demand: in sales, in no extract
        driver = demand_driver(dims.countries, len(weeks), scenario.driver_sd,
                               scenario.driver_persistence, seed)
        macro_mult = {c: m * np.exp(driver[c])[week_of_day] for c, m in macro_mult.items()}
    promos = make_promotions(sc, dims, seed)
    ctx = DemandContext(days, dims.stores, dims.products, dims.closures, calendar, macro_mult,
                        {}, promos, seed)
    organic = organic_list_revenue(ctx, sc.store_chunk)
    media = make_media(dims.countries, days, sc.history_days, organic, seed, driver,
                       dict(scenario.planned_channels))
    ctx.media = media.multiplier
    years = sc.history_days / 365.25
    yearly = {c: float(organic[c][: sc.history_days].sum() / years) for c in dims.countries}
    funnel = b2b.make_funnel(sc, dims.countries, media, yearly, seed)
    folks = people.make_people(sc, dims.countries, dims.products, seed)
    invoices = number_invoices(pd.concat([funnel.invoices, folks.orders.drop(columns="day")],
                                         ignore_index=True))
    if scenario.tested_channels:
        tests = geo_lift_tests(media, sc.history_days, days, seed, scenario.tested_channels,
                               scenario.lift_tests_per_channel, scenario.lift_relative_se,
                               scenario.lift_post_weeks)
    else:
        tests = lift_tests(media, sc.history_days, days, seed,
                           post_weeks=scenario.lift_post_weeks)
    return World(sc, seed, days, dims, macro, promos, ctx, media, funnel, folks, invoices, tests,
                 scenario, driver)


def number_invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    invoices = invoices.sort_values(["invoice_date", "customer_id", "amount"], ignore_index=True,
                                    kind="stable")
    invoices.insert(0, "invoice_id", [f"INV-{i + 1:07d}" for i in range(len(invoices))])
    return invoices


def write_store_sales(world: World, w: Window, writer: ExtractWriter, truth: Path,
                      progress: bool) -> dict[str, object]:
    """Simulate store chunks; stream POS and inventory; accumulate the store and promo truth."""
    days, products, promos = world.days, world.dims.products, world.promos
    day_str = days.strftime("%Y-%m-%d").to_numpy()
    sku = products.sku.to_numpy()
    list_price = products.list_price.to_numpy()
    unit_cost = products.unit_cost.to_numpy()
    promo_ids = promos.promo_id.to_numpy()
    n_promos = len(promos)
    acc = {k: np.zeros(n_promos) for k in (
        "baseline_units", "expected_units", "actual_units", "lost_units", "dip_units",
        "cannibalized_units", "incremental_margin", "stockout_cell_days", "covered_cell_days")}
    daily_frames = []
    chunks = list(store_chunks(world.dims.stores, world.scale.store_chunk))
    for chunk in tqdm(chunks, desc=f"store sales ({world.scale.name})", unit="chunk",
                      disable=not progress):
        r = simulate_chunk(world.ctx, chunk)
        price = r.effects.price
        revenue = np.round(r.sales * price, 2)
        _write_pos(writer, w, r, revenue, day_str, sku, promo_ids)
        _write_inventory(writer, w, r, day_str, sku, world)
        daily_frames.append(_store_day_truth(w, r, revenue, price, list_price, day_str))
        _accumulate_promos(acc, r, price, list_price, unit_cost)
    baseline_daily = pd.concat(daily_frames, ignore_index=True).sort_values(
        ["date", "store_id"], ignore_index=True)
    _write_csv(baseline_daily, truth / "baseline_daily.csv")
    promo_truth = _promo_truth(promos, acc, w)
    _write_csv(promo_truth, truth / "promotions.csv")
    media_rev = baseline_daily.media_revenue.sum()
    total = baseline_daily.expected_revenue.sum()
    return {
        "stores / SKUs / countries": f"{len(world.dims.stores)} / {len(products)} / "
                                     f"{len(world.dims.countries)}",
        "POS revenue": f"{baseline_daily.actual_revenue.sum():,.0f}",
        "expected revenue: organic / media / promotion": (
            f"{baseline_daily.organic_revenue.sum() / total:.1%} / {media_rev / total:.1%} / "
            f"{baseline_daily.promo_revenue.sum() / total:.1%}"),
        "promotions (past, active, planned)": ", ".join(
            str((promo_truth.status == s).sum()) for s in ("completed", "active", "planned")),
        "median true lift of past promotions": (
            f"{promo_truth[promo_truth.status == 'completed'].true_lift_pct.median():.1f}%"),
        "units lost to stockouts": f"{baseline_daily.lost_units.sum():,.0f}",
    }


def _write_pos(writer, w, r, revenue, day_str, sku, promo_ids) -> None:
    t, s, k = np.nonzero(r.sales[w.i0 : w.i1] > 0)
    t = t + w.i0
    tag, role = r.effects.tag[t, s, k], r.effects.role[t, s, k]
    promo = np.where(role == 1, promo_ids[np.maximum(tag, 0)], None)
    frame = pd.DataFrame(
        {
            "date": day_str[t],
            "store_id": r.stores.store_id.to_numpy()[s],
            "sku": sku[k],
            "units": r.sales[t, s, k],
            "revenue": revenue[t, s, k],
            "unit_price": r.effects.price[t, s, k],
            "promo_id": promo,
            "customer_count": r.baskets[t, s, k],
        }
    )
    writer.write_monthly("pos", frame, "date", w.first, w.last)


def _write_inventory(writer, w, r, day_str, sku, world) -> None:
    days = world.days.to_numpy()[w.i0 : w.i1]
    opened = pd.to_datetime(r.stores.opened_date).to_numpy()
    launched = pd.to_datetime(world.dims.products.launch_date).to_numpy()
    live = (days[:, None, None] >= opened[None, :, None]) & (
        days[:, None, None] >= launched[None, None, :])
    t, s, k = np.nonzero(live)
    t = t + w.i0
    frame = pd.DataFrame(
        {
            "date": day_str[t],
            "store_id": r.stores.store_id.to_numpy()[s],
            "sku": sku[k],
            "on_hand": r.on_hand[t, s, k],
            "on_order": r.on_order[t, s, k],
        }
    )
    writer.write_monthly("inventory", frame, "date", w.first, w.last)


def _store_day_truth(w, r, revenue, price, list_price, day_str) -> pd.DataFrame:
    sl = slice(w.i0, w.i1)
    lp = list_price[None, None, :]
    media = r.baseline - r.organic
    lost = r.demand - r.sales
    n_days, n_st = w.i1 - w.i0, len(r.stores)
    expected_rev = (r.expected[sl] * price[sl]).sum(axis=2)
    baseline_rev = (r.baseline[sl] * lp).sum(axis=2)
    return pd.DataFrame(
        {
            "date": np.repeat(day_str[sl], n_st),
            "store_id": np.tile(r.stores.store_id.to_numpy(), n_days),
            "baseline_units": r.baseline[sl].sum(axis=2).ravel(),
            "baseline_revenue": baseline_rev.ravel(),
            "organic_revenue": (r.organic[sl] * lp).sum(axis=2).ravel(),
            "media_revenue": (media[sl] * lp).sum(axis=2).ravel(),
            "promo_revenue": (expected_rev - baseline_rev).ravel(),
            "expected_units": r.expected[sl].sum(axis=2).ravel(),
            "expected_revenue": expected_rev.ravel(),
            "actual_units": r.sales[sl].sum(axis=2).ravel(),
            "actual_revenue": revenue[sl].sum(axis=2).ravel(),
            "lost_units": lost[sl].sum(axis=2).ravel(),
            "lost_revenue": (lost[sl] * price[sl]).sum(axis=2).ravel(),
        }
    )


def _accumulate_promos(acc, r, price, list_price, unit_cost) -> None:
    tag, role = r.effects.tag, r.effects.role
    n = len(acc["baseline_units"])

    def add(key, mask, values):
        acc[key] += np.bincount(tag[mask], weights=values[mask], minlength=n)

    win = role == 1
    add("baseline_units", win, r.baseline)
    add("expected_units", win, r.expected)
    add("actual_units", win, r.sales.astype(float))
    lost = (r.demand - r.sales).astype(float)
    add("lost_units", win, lost)
    add("stockout_cell_days", win, (lost > 0).astype(float))
    add("covered_cell_days", win, (r.baseline > 0).astype(float))
    add("dip_units", role == 2, r.expected - r.baseline)
    add("cannibalized_units", role == 3, r.expected - r.baseline)
    margin = r.expected * (price - unit_cost) - r.baseline * (list_price - unit_cost)
    add("incremental_margin", role > 0, margin)


def _promo_truth(promos: pd.DataFrame, acc: dict, w: Window) -> pd.DataFrame:
    t = promos[["promo_id", "start", "end", "promo_type", "category", "sku", "store_id",
                "region", "discount_pct", "no_effect", "understocked", "dip_share",
                "cannib_share"]].rename(columns={"start": "start_date", "end": "end_date"})
    t = t.assign(**{k: np.round(v, 3) for k, v in acc.items()})
    t["true_lift_pct"] = np.round(promos.lift.to_numpy() * 100, 3)
    observed = t.end_date <= w.last
    realized = (t.actual_units - t.baseline_units) / t.baseline_units.where(t.baseline_units > 0)
    t["realized_lift_pct"] = np.where(observed, np.round(realized * 100, 3), np.nan)
    t.loc[~observed, ["actual_units", "lost_units", "stockout_cell_days"]] = np.nan
    t["status"] = promo_status(t.start_date, t.end_date, w.last)
    announced = t.start_date <= w.last + timedelta(days=PLANNING_HORIZON_DAYS)
    return t[announced].reset_index(drop=True)


def promo_status(start: pd.Series, end: pd.Series, as_of: date) -> np.ndarray:
    return np.where(end <= as_of, "completed", np.where(start <= as_of, "active", "planned"))


def write_small_sources(world: World, w: Window, writer: ExtractWriter) -> None:
    dims, first, last = world.dims, w.first, w.last
    ahead = last + timedelta(days=PLANNING_HORIZON_DAYS)
    in_window = lambda s: (s >= first) & (s <= last)  # noqa: E731

    stores = dims.stores[dims.stores.opened_date <= ahead]
    writer.write("stores", stores, first, last)
    products = dims.products[dims.products.launch_date <= ahead]
    writer.write("products", products, first, last)

    p = world.promos[world.promos.start <= ahead].copy()
    p["start_date"], p["end_date"] = p.start, p.end
    p["status"] = promo_status(p.start, p.end, last)
    p["discount_pct"] = p.discount_pct.where(p.discount_known, None)
    writer.write("promotions", p, first, last)

    spend = world.media.spend[in_window(world.media.spend.date)]
    writer.write_monthly("spend", spend, "date", first, last)

    writer.write("crm", b2b.crm_snapshot(world.funnel.opportunities, first, last), first, last)
    inv = world.invoices[in_window(world.invoices.invoice_date)]
    writer.write_monthly("erp", inv, "invoice_date", first, last)

    consumers = world.people.consumers
    customers = pd.concat([consumers[consumers.signup_date <= last],
                           world.funnel.accounts[world.funnel.accounts.signup_date <= last]],
                          ignore_index=True)
    writer.write("customers", customers, first, last)

    t0 = datetime.combine(first, datetime.min.time())
    t1 = datetime.combine(last, datetime.max.time())
    service = people.service_snapshot(world.people.service, t0, t1)
    service = service.assign(opened_at=pd.to_datetime(service.opened_at).dt.floor("s"),
                             closed_at=pd.to_datetime(service.closed_at).dt.floor("s"))
    writer.write("service", service, first, last)

    writer.write("events", _events(world, first, last), first, last)
    macro = world.macro[in_window(world.macro.date)]
    writer.write("macro", macro, first, last)
    tests = world.lift_tests
    if not tests.empty:
        writer.write("lift_tests", tests[in_window(reported_on(tests))], first, last)


def reported_on(tests: pd.DataFrame) -> pd.Series:
    """The day each lift test's result is known: the end of its post-period, else its end."""
    return tests["measured_until"].where(tests["measured_until"].notna(), tests["end_date"])


def _events(world: World, first: date, last: date) -> pd.DataFrame:
    """Holidays known a year ahead; store closures as they happened, one row per day."""
    holidays = holiday_events(world.dims.countries, first, last + timedelta(days=365))
    stores = world.dims.stores.set_index("store_id")
    rows = []
    for c in world.dims.closures.itertuples():
        d = c.start
        while d <= c.end:
            if first <= d <= last:
                rows.append({"date": d, "name": f"Store closed: {c.reason}", "kind": "closure",
                             "country": stores.country[c.store_id],
                             "region": stores.region[c.store_id], "store_id": c.store_id})
            d += timedelta(days=1)
    events = pd.concat([holidays, pd.DataFrame(rows)], ignore_index=True)
    return events.sort_values(["date", "kind", "country", "name"], ignore_index=True,
                              key=lambda s: s.astype(str))


def write_truth(world: World, w: Window, truth: Path) -> dict[str, object]:
    weekly = world.media.weekly
    week_days = pd.to_datetime(weekly.week_start).dt.date
    in_w = (week_days >= w.first) & (week_days <= w.last)
    _write_csv(weekly[in_w], truth / "media_weekly.csv")
    channels = _channel_truth(world, in_w.to_numpy(), w)
    _write_csv(channels, truth / "channels.csv")

    consumers = world.people.consumers[["customer_id", "latent_type"]]
    accounts = world.funnel.accounts[["customer_id"]].assign(latent_type="b2b_account")
    _write_csv(pd.concat([consumers, accounts]), truth / "customers.csv")
    svc = world.people.service
    svc = svc[(svc.opened_at >= pd.Timestamp(w.first))
              & (svc.opened_at <= pd.Timestamp(w.last) + pd.Timedelta(days=1))]
    _write_csv(svc[["interaction_id", "p_low_satisfaction", "is_low", "handling_hours",
                    "repeat_contact", "days_late_before", "opened_at"]], truth / "service.csv")
    tests = world.lift_tests
    if not tests.empty:
        reported = reported_on(tests)
        tests = tests[(reported >= w.first) & (reported <= w.last)]
    _write_csv(tests, truth / "lift_tests.csv")
    if world.driver is not None:
        _write_csv(_driver_truth(world, w), truth / "demand_driver.csv")
    (truth / "world.json").write_text(json.dumps(_world_facts(world, w), indent=2,
                                                 default=str) + "\n")
    total = channels[channels.country == "ALL"]
    return {"true ROI by channel (all countries)": ", ".join(
        f"{r.channel} {r.roi:.2f}" for r in total.itertuples())}


def _driver_truth(world: World, w: Window) -> pd.DataFrame:
    """The hidden demand driver per country and week of the window: organic demand was
    exp(driver) times what the observed drivers alone give."""
    weeks = world.days[::7]
    inside = (weeks.date >= w.first) & (weeks.date <= w.last)
    return pd.concat([pd.DataFrame({"country": c, "week_start": weeks.date[inside],
                                    "driver": d[inside], "multiplier": np.exp(d[inside])})
                      for c, d in world.driver.items()], ignore_index=True)


def _channel_truth(world: World, in_w: np.ndarray, w: Window) -> pd.DataFrame:
    weekly = world.media.weekly
    opps = world.funnel.opportunities
    won_opps = opps[opps.won & (opps.created_date >= w.first) & (opps.created_date <= w.last)]
    rows = []
    for p in world.media.params.itertuples():
        m = ((weekly.country == p.country) & (weekly.channel == p.channel)).to_numpy()
        wk = weekly[m]
        sel = in_w[m]
        spend, contrib = wk.spend.to_numpy(), wk.contribution.to_numpy()
        bumped = p.beta * hill(geometric_adstock(spend * 1.01, p.theta), p.alpha, p.gamma)
        win_spend = spend[sel].sum()
        b2b_won = won_opps[(won_opps.country == p.country) & (won_opps.channel == p.channel)]
        rows.append({
            "country": p.country, "channel": p.channel, "theta": p.theta, "alpha": p.alpha,
            "gamma": p.gamma, "beta": p.beta, "spend": win_spend,
            "contribution": contrib[sel].sum(),
            "roi": contrib[sel].sum() / win_spend if win_spend else np.nan,
            "mroi": (bumped[sel] - contrib[sel]).sum() / (0.01 * win_spend) if win_spend
            else np.nan,
            "b2b_opportunities_won": len(b2b_won), "b2b_won_revenue": b2b_won.amount.sum(),
            "b2b_roi": b2b_won.amount.sum() / win_spend if win_spend else np.nan,
        })
    frame = pd.DataFrame(rows)
    total = frame.groupby("channel", sort=False)[
        ["spend", "contribution", "b2b_won_revenue"]].sum().reset_index()
    total["country"] = "ALL"
    total["roi"] = total.contribution / total.spend
    total["b2b_roi"] = total.b2b_won_revenue / total.spend
    return pd.concat([frame, total], ignore_index=True)


def _world_facts(world: World, w: Window) -> dict:
    sc = world.scale
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": world.seed,
        "scale": sc.name,
        "epoch": EPOCH,
        "world_last_day": sc.last_day,
        "default_history_days": sc.history_days,
        "window": {"first": w.first, "last": w.last},
        "countries": world.dims.countries,
        "sunday_closed_countries": sorted(SUNDAY_CLOSED & set(world.dims.countries)),
        "stores": len(world.dims.stores),
        "skus": len(world.dims.products),
        "categories": [c.name for c in CATEGORIES[: sc.categories]],
        "demand": {
            "base_units": BASE_UNITS,
            "macro_elasticity": MACRO_ELASTICITY,
            "decomposition": "expected units = B * (1 + M) * P; B organic, M media share of "
                             "the country-week, P promotion multiplier",
        },
        "media": {
            "grain": "week (Monday start) x country x channel",
            "adstock": "a_w = spend_w + theta * a_{w-1} (geometric, not normalised)",
            "saturation": "a^alpha / (a^alpha + gamma^alpha)",
            "contribution": "beta * saturation, revenue per week, at list price",
            "roi": "contribution / spend over the window's weeks",
        },
        "promotions": {
            "lift": "sensitivity_category * (amplitude_type * LIFT_MAX * (1 - exp(-discount / "
                    "LIFT_DISCOUNT_SCALE)) + base_lift_type) * lognormal(0, 0.15)",
            "LIFT_MAX": LIFT_MAX,
            "LIFT_DISCOUNT_SCALE": LIFT_DISCOUNT_SCALE,
            "dip_days": DIP_DAYS,
            "lift_pct_definition": "(units - counterfactual units) / counterfactual units * 100 "
                                   "over the promoted store-SKUs and the promotion window",
        },
        "b2b": {"invoice_lag": "close + 30..240 days, 1-3 instalments 30 days apart"},
        "scenario": _scenario_facts(world.scenario),
    }


def _scenario_facts(scenario: Scenario) -> dict:
    post_period = {"lift_test_post_weeks": scenario.lift_post_weeks,
                   "lift_test_post_period_channels": "reach media (bought in flights or monthly)"}
    if scenario.name == "standard":
        return {"name": "standard", **post_period}
    return {**post_period,
        "name": scenario.name,
        "hidden_demand_driver": {
            "model": "AR(1) on log organic demand per country-week, in no extract "
                     "(demand_driver.csv)",
            "sd": scenario.driver_sd, "persistence": scenario.driver_persistence},
        "planned_channels": {c: f"spend x exp({k} x driver)"
                             for c, k in scenario.planned_channels},
        "demand_following_channels": ["search"],
        "lift_tests": {"channels": list(scenario.tested_channels),
                       "per_channel_and_country": scenario.lift_tests_per_channel,
                       "relative_std_error": scenario.lift_relative_se,
                       "design": "geo experiment, channel dark for 4 weeks"},
    }


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")
