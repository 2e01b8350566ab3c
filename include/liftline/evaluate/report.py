"""Every evaluator over one truth folder, and the headline table of the result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from .customers import evaluate_satisfaction, evaluate_segments
from .forecast import evaluate_sales_forecast
from .mmm import evaluate_mmm
from .promo import evaluate_promo_lift
from .result import EVALUATED, json_safe, not_evaluated
from .truth import Truth, truth_folder

Evaluator = Callable[[Engine, Truth], dict[str, Any]]

EVALUATORS: dict[str, Evaluator] = {
    "sales_forecast": evaluate_sales_forecast,
    "promo_lift": evaluate_promo_lift,
    "mmm": evaluate_mmm,
    "customer_segments": evaluate_segments,
    "satisfaction_risk": evaluate_satisfaction,
}


def evaluate_models(engine: Engine, truth_dir: Path | str) -> dict[str, Any]:
    """Each model's metrics against the truth in `truth_dir` (a world folder or its _truth/).

    Raises TruthError when `truth_dir` holds no truth; a model that cannot be evaluated is a
    `not_evaluated` section with the reason.
    """
    truth = Truth(truth_folder(truth_dir))
    world = truth.world()
    return json_safe({
        "truth": str(truth.folder),
        "world": {key: world.get(key) for key in ("scale", "seed", "window")},
        "models": {name: _guarded(evaluate, engine, truth)
                   for name, evaluate in EVALUATORS.items()},
    })


def _guarded(evaluate: Evaluator, engine: Engine, truth: Truth) -> dict[str, Any]:
    # One model's unexpected failure must not hide the others' results: the demo prints them
    # all, and the reason names the failure.
    try:
        return evaluate(engine, truth)
    except Exception as exc:  # noqa: BLE001
        return not_evaluated(f"evaluation failed: {type(exc).__name__}: {exc}")


COLUMNS = ("model", "metric", "Liftline", "baseline", "oracle/truth", "verdict")


def headline_table(result: dict[str, Any]) -> str:
    """One line per model: model, metric, Liftline, baseline, oracle/truth, verdict."""
    lines = [COLUMNS]
    for name, section in result["models"].items():
        if section.get("status") == EVALUATED:
            h = section["headline"]
            values = (h["liftline"], h["baseline"], h["oracle"])
            lines.append((name, h["metric"], *_cells(values), h["verdict"]))
        else:
            lines.append((name, "-", "-", "-", "-", f"not evaluated: {section.get('reason')}"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                                row[-1]]).rstrip() for row in lines)


def _cells(values: tuple[Any, ...]) -> list[str]:
    """A row's numbers with one precision: 3 decimals for scores, 1 for percent figures."""
    large = any(v is not None and abs(v) >= 10 for v in values)
    return ["-" if v is None else f"{v:.1f}" if large else f"{v:.3f}" for v in values]
