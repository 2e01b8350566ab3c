"""The model registry's index in the warehouse (`ml_model_registry`): versions, statuses,
champion/challenger promotion, rollback and what is due for training.

Statuses: `champion` (the one version of a model that scores), `challenger` (trained and kept,
not promoted: the reason is in its metrics), `retired` (a former champion), `skipped` (a training
run that had nothing to train on). Every change of champion, by promotion or rollback, appends
an audit event in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, or_, select, update

from liftline import settings
from liftline.features import features_as_of
from liftline.modeling import Lifecycle, lifecycle_of, read_spec
from liftline.warehouse import append_audit, read_frame, table, write_transaction

from .card import ModelCard
from .store import CARD_FILE, read_file, version_url, write_files

CHAMPION, CHALLENGER, RETIRED, SKIPPED = "champion", "challenger", "retired", "skipped"

# Each model family and the spec whose `lifecycle:` section governs it.
FAMILY_SPECS = {"sales_forecast": "sales_forecast.yaml", "promo_lift": "promo_lift.yaml",
                "mmm": "mmm.yaml", "customer_segments": "customer_segments.yaml",
                "satisfaction": "satisfaction.yaml"}

Log = Callable[[str], None]


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class Version:
    """One registered version: its row in ml_model_registry, and its artifact."""

    model: str
    version: str
    status: str
    run_id: str | None
    trained_at: Any
    data_end: Any
    artifact_uri: str | None
    metrics: dict[str, Any]

    def card(self) -> ModelCard:
        return ModelCard.from_dict(read_file(self.artifact_uri, CARD_FILE))

    def load(self, name: str) -> Any:
        """A file of the artifact (e.g. `model.pkl`, `training.json`)."""
        return read_file(self.artifact_uri, name)


def lifecycle(family: str) -> Lifecycle:
    """The lifecycle settings of a model family (its spec's `lifecycle:` section)."""
    path = settings.project_root() / "models" / FAMILY_SPECS.get(family, f"{family}.yaml")
    return lifecycle_of(read_spec(path, f"{family} spec"), path) if path.exists() else Lifecycle()


def make_version(card: ModelCard) -> str:
    """A readable id: model, the training as-of, and a short hash of what was trained."""
    what = json.dumps([card.model, card.run_id, card.spec_hash, card.data_start, card.data_end],
                      default=str)
    day = (card.data_end or card.trained_at or "")[:10].replace("-", "")
    return f"{card.model.replace('/', '-')}-{day}-{hashlib.sha256(what.encode()).hexdigest()[:7]}"


def decide(card: ModelCard, champion: Version | None, champion_score: float | None,
           margin: float, refresh: bool = False) -> Decision:
    """Promote only a challenger that beats its baseline and, on the same backtest window,
    the champion by `margin` (lower scores are better). `refresh`: it is the champion's own
    configuration retrained on newer data, which replaces the champion if it beats the
    baseline."""
    metric = card.metric.upper()
    if not _known(card.score):
        if champion is None:  # e.g. too little data for a holdout: the baseline serves
            return Decision(True, f"no backtest {metric} (too little data to hold any out); "
                                  "it serves until a version with a backtest beats it")
        return Decision(False, f"no backtest {metric} to judge it by; the champion keeps "
                               "scoring")
    if _known(card.baseline_score) and not card.score < card.baseline_score:
        return Decision(False, f"{metric} {card.score:.4g} does not beat its baseline "
                               f"{card.baseline} ({card.baseline_score:.4g})")
    if refresh and champion is not None:
        return Decision(True, f"the champion's configuration retrained on data to "
                              f"{card.data_end}: {metric} {card.score:.4g}")
    if champion is None:
        return Decision(True, f"first champion: {metric} {card.score:.4g} beats {card.baseline}"
                              + (f" ({card.baseline_score:.4g})" if _known(card.baseline_score)
                                 else ""))
    window = "on the same backtest window"
    if not _known(champion_score):
        champion_score = champion.metrics.get("score")
        window = "on its own, earlier backtest (it could not be re-scored on this one)"
    if not _known(champion_score):
        return Decision(True, f"{metric} {card.score:.4g}; the champion {champion.version} has "
                              "no comparable score")
    needed = champion_score * (1 - margin)
    if card.score <= needed:
        return Decision(True, f"{metric} {card.score:.4g} beats the champion {champion.version} "
                              f"({champion_score:.4g}) {window} by at least {margin:.0%}")
    return Decision(False, f"{metric} {card.score:.4g} does not beat the champion "
                           f"{champion.version} ({champion_score:.4g}) {window} by {margin:.0%}; "
                           "the champion keeps scoring")


def register(engine: Engine | Connection, card: ModelCard, files: dict[str, Any],
             champion_score: float | None = None, lifecycle_settings: Lifecycle | None = None,
             log: Log = print, promote: bool | None = None, refresh: bool = False) -> Version:
    """Store a trained version's artifact and card, decide champion or challenger, record it.

    `champion_score`: the current champion's `card.metric` on this version's backtest window
    (the stage computes it; None when it cannot). `promote` overrides the decision (False: a
    stage's own rule refused it, with the reason in `card.promotion`). A rerun of the same
    training run keeps the version and its status.
    """
    settings_ = lifecycle_settings or lifecycle(card.family)
    card.version = card.version or make_version(card)
    current = champion(engine, card.model)
    existing = _row(engine, card.model, card.version)
    if existing is not None:  # a rerun of the same training run: the decision stands
        log(f"{card.model}: version {card.version} is already registered ({existing.status})")
        return existing
    decision = decide(card, current, champion_score, settings_.promotion_margin, refresh)
    if promote is False and decision.promote:
        decision = Decision(False, card.promotion.get("reason") or "refused by the stage")
    card.promotion = {**card.promotion, "promoted": decision.promote, "reason": decision.reason,
                      "compared_with": current.version if current else None,
                      "champion_score": champion_score}
    url = version_url(card.model, card.version)
    write_files(url, {**files, CARD_FILE: card.to_dict()})
    status = CHAMPION if decision.promote else CHALLENGER
    with write_transaction(engine) as conn:
        _upsert_row(conn, card, status, url)
        if decision.promote:
            _replace_champion(conn, card.model, current, card.version, decision.reason,
                              card.run_id, action="champion_changed")
    log(f"{card.model}: version {card.version} is {'the new champion' if decision.promote else 'a challenger'}: "
        f"{decision.reason}")
    return _row(engine, card.model, card.version)


def register_skipped(engine: Engine | Connection, model: str, run_id: str, reason: str) -> None:
    """Record that a training run had nothing to train `model` on (replaced on a rerun)."""
    registry = table("ml_model_registry")
    version = f"{model.replace('/', '-')}-skipped-{hashlib.sha256(run_id.encode()).hexdigest()[:7]}"
    with write_transaction(engine) as conn:
        conn.execute(registry.delete().where(registry.c.model_name == model,
                                             registry.c.version == version))
        conn.execute(registry.insert().values(
            model_name=model, version=version, run_id=run_id, status=SKIPPED,
            trained_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            metrics_json=json.dumps({"reason": reason}), params_json=None))


def champion(engine: Engine | Connection, model: str, as_of: Any = None) -> Version | None:
    """The version that scores `model`; for a past `as_of`, the newest version that has been
    champion and was trained on data up to that day (a rerun of a past date never uses a
    model that saw later data, and reproduces that day's rows)."""
    registry = table("ml_model_registry")
    current = _versions(engine, registry.c.model_name == model, registry.c.status == CHAMPION)
    if as_of is None or not current:
        return current[0] if current else None
    day = pd.Timestamp(as_of).date()
    if current[0].data_end is None or pd.Timestamp(current[0].data_end).date() <= day:
        return current[0]
    earlier = _versions(engine, registry.c.model_name == model,
                        registry.c.status.in_((CHAMPION, RETIRED)),
                        registry.c.data_end <= day)
    return earlier[0] if earlier else None


def versions(engine: Engine, model: str | None = None) -> list[Version]:
    """Every registered version (of `model`, or of all models), newest first."""
    registry = table("ml_model_registry")
    where = [] if model is None else [registry.c.model_name == model]
    return _versions(engine, *where)


def models(engine: Engine) -> pd.DataFrame:
    """One row per model: its champion, when it was trained, versions kept, the latest run."""
    rows = []
    everything = versions(engine)
    for model in sorted({v.model for v in everything}):
        own = [v for v in everything if v.model == model]
        best = next((v for v in own if v.status == CHAMPION), None)
        latest = own[0]
        rows.append({"model": model, "champion": best.version if best else None,
                     "champion_trained_at": best.trained_at if best else None,
                     "champion_data_end": best.data_end if best else None,
                     "score": best.metrics.get("score") if best else None,
                     "metric": best.metrics.get("metric") if best else None,
                     "versions": len(own), "latest": latest.version,
                     "latest_status": latest.status,
                     "latest_reason": (latest.metrics.get("promotion") or {}).get("reason")
                     or latest.metrics.get("reason")})
    return pd.DataFrame(rows)


def rollback(engine: Engine, model: str, to: str | None = None, actor: str | None = None
             ) -> tuple[str | None, str]:
    """Make `to` (default: the champion before the current one) the champion again.

    Returns (the former champion, the new one). One-line ValueErrors for an unknown model or
    version, or when there is nothing to roll back to.
    """
    own = versions(engine, model)
    if not own:
        known = sorted({v.model for v in versions(engine)})
        raise ValueError(f"no model {model!r} in the registry; known: {', '.join(known) or 'none'}")
    current = next((v for v in own if v.status == CHAMPION), None)
    if to is None:
        target = _previous_champion(engine, model, current)
        if target is None:
            raise ValueError(f"{model} has no earlier champion to roll back to: name a version "
                             "with --to (see `liftline models show`)")
    else:
        target = next((v for v in own if v.version == to), None)
        if target is None:
            raise ValueError(f"{model} has no version {to!r}: see `liftline models show {model}`")
        if target.status == SKIPPED:
            raise ValueError(f"{to} is a skipped training run, not a model: pick another version")
    if current is not None and target.version == current.version:
        raise ValueError(f"{to} is already the champion of {model}")
    with write_transaction(engine) as conn:
        _replace_champion(conn, model, current, target.version, "rollback", None,
                          action="rollback", actor=actor)
    return (current.version if current else None), target.version


def due_for_training(engine: Engine, as_of: Any = None, models: Iterable[str] | None = None
                     ) -> dict[str, str]:
    """Model families that should train now, each with the reason: never trained, or the
    newest version's data is at least the spec's `retrain_every_days` older than the data."""
    wanted = list(models) if models else list(FAMILY_SPECS)
    unknown = sorted(set(wanted) - set(FAMILY_SPECS))
    if unknown:
        raise ValueError(f"unknown model famil{'ies' if len(unknown) > 1 else 'y'} "
                         f"{', '.join(unknown)}: choose from {', '.join(FAMILY_SPECS)}")
    day = pd.Timestamp(as_of).date() if as_of not in (None, "") else features_as_of(engine)
    registry = table("ml_model_registry")
    due = {}
    for family in wanted:
        own = _versions(engine, or_(registry.c.model_name == family,
                                    registry.c.model_name.like(f"{family}/%")))
        trained = [v for v in own if v.status != SKIPPED and v.data_end is not None]
        if not trained:
            due[family] = "never trained" if not own else "no model trained yet"
            continue
        newest = max(pd.Timestamp(v.data_end).date() for v in trained)
        every = lifecycle(family).retrain_every_days
        if day is not None and (day - newest).days >= every:
            due[family] = f"newest model was trained on data to {newest}, {(day - newest).days} " \
                          f"days before {day} (retrain every {every})"
    return due


# --- rows --------------------------------------------------------------------------------------


def _upsert_row(conn: Connection, card: ModelCard, status: str, url: str) -> None:
    registry = table("ml_model_registry")
    conn.execute(registry.delete().where(registry.c.model_name == card.model,
                                         registry.c.version == card.version))
    headline = {"metric": card.metric, "score": card.score, "baseline": card.baseline,
                "baseline_score": card.baseline_score, "promotion": card.promotion,
                **{k: v for k, v in card.metrics.items() if _is_scalar(v)}}
    conn.execute(registry.insert().values(
        model_name=card.model, version=card.version, run_id=card.run_id, status=status,
        trained_at=pd.Timestamp(card.trained_at).to_pydatetime(),
        metrics_json=json.dumps(headline, default=str, allow_nan=True),
        params_json=json.dumps(card.params, default=str),
        data_start=_date(card.data_start), data_end=_date(card.data_end), artifact_uri=url))


def _replace_champion(conn: Connection, model: str, current: Version | None, new: str,
                      reason: str, run_id: str | None, action: str,
                      actor: str | None = None) -> None:
    registry = table("ml_model_registry")
    if current is not None and current.version != new:
        conn.execute(update(registry).where(registry.c.model_name == model,
                                            registry.c.version == current.version)
                     .values(status=RETIRED))
    conn.execute(update(registry).where(registry.c.model_name == model,
                                        registry.c.version == new).values(status=CHAMPION))
    append_audit(conn, action, model,
                 before={"champion": current.version if current else None},
                 after={"champion": new, "reason": reason}, actor=actor, run_id=run_id)


def _previous_champion(engine: Engine, model: str, current: Version | None) -> Version | None:
    """The champion before `current`: the latest retired version that has been champion."""
    retired = [v for v in versions(engine, model) if v.status == RETIRED]
    return retired[0] if retired else None


def _versions(bind: Engine | Connection, *where: Any) -> list[Version]:
    registry = table("ml_model_registry")
    query = select(registry).order_by(registry.c.trained_at.desc(), registry.c.version.desc())
    for clause in where:
        query = query.where(clause)
    frame = read_frame(bind, query)
    return [Version(model=r.model_name, version=r.version, status=r.status, run_id=r.run_id,
                    trained_at=r.trained_at, data_end=_date(r.data_end),
                    artifact_uri=r.artifact_uri, metrics=_loads(r.metrics_json))
            for r in frame.itertuples(index=False)]


def _row(engine: Engine | Connection, model: str, version: str) -> Version | None:
    registry = table("ml_model_registry")
    found = _versions(engine, registry.c.model_name == model, registry.c.version == version)
    return found[0] if found else None


def _loads(text: str | None) -> dict[str, Any]:
    try:
        found = json.loads(text) if text else {}
    except (TypeError, json.JSONDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date()


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
