"""The Params every Liftline DAG takes, so a person reruns any day or model from the trigger form.

`liftline run` passes the same keys as run conf to every DAG (include/liftline/cli/run.py).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

# The model families a run can be limited to (the `models` param); each DAG task that trains,
# scores or monitors one family skips itself when its family is not selected. The same list as
# liftline.registry.FAMILY_SPECS (a test holds them equal); spelt out here so parsing a DAG
# file does not import the registry.
MODEL_FAMILIES = ("sales_forecast", "promo_lift", "mmm", "customer_segments", "satisfaction")

_UNUSED = "unused here; the runner passes it to every DAG"


def pipeline_params(
    *,
    as_of: str,
    full_refresh: str = _UNUSED,
    models: str = _UNUSED,
    settle_seconds: float = 0,
    settle_help: str = _UNUSED,
) -> dict[str, Param]:
    """The shared params with this DAG's help texts (a DAG may add its own)."""
    return {
        "as_of": Param(None, type=["null", "string"], format="date",
                       description=f"YYYY-MM-DD: {as_of}"),
        "full_refresh": Param(False, type="boolean", description=full_refresh),
        "models": Param(
            [], type="array", items={"type": "string", "enum": list(MODEL_FAMILIES)},
            uniqueItems=True, description=f"model families, empty = all: {models}",
        ),
        "settle_seconds": Param(settle_seconds, type="number", minimum=0,
                                description=settle_help),
    }


def selected_models(params: dict[str, Any]) -> list[str]:
    """The families a run is limited to, in their canonical order; all when `models` is empty."""
    chosen = params.get("models") or []
    unknown = sorted(set(chosen) - set(MODEL_FAMILIES))
    if unknown:
        raise ValueError(f"unknown model famil{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(unknown)} in the models param: use "
                         f"{', '.join(MODEL_FAMILIES)} (or none for all)")
    return [family for family in MODEL_FAMILIES if not chosen or family in chosen]


def is_selected(params: dict[str, Any], family: str) -> bool:
    """Whether this run covers the model family `family`."""
    return family in selected_models(params)


def plan_params() -> dict[str, Param]:
    """The scoring DAG's on-demand quarter plan (off unless a person asks for it)."""
    return {
        "plan_quarter": Param(False, type="boolean",
                              description="also plan the next quarter's media and promotions "
                                          "(liftline plan; from the Monday after as_of)"),
        "plan_weeks": Param(13, type="integer", minimum=1, maximum=53,
                            description="weeks the plan covers"),
        "plan_media_budget": Param(None, type=["null", "number"], minimum=0,
                                   description="the plan's total media spend (default: "
                                               "business as usual's)"),
    }
