"""`liftline models list | show MODEL | rollback MODEL [--to VERSION]`: the model registry.

A rollback makes an earlier version the champion again (scoring uses it from its next run) and
appends an audit event naming who did it; it never deletes a version.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="the model registry: champions, versions, rollback")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every model with its champion")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_models_list, needs_warehouse=True)
    show = actions.add_parser("show", help="a model's versions and its champion's model card")
    show.add_argument("model", help="e.g. sales_forecast/all, promo_lift, mmm/ALL/all")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_models_show, needs_warehouse=True)
    back = actions.add_parser("rollback", help="make an earlier version the champion again")
    back.add_argument("model")
    back.add_argument("--to", help="the version (default: the champion before the current one)")
    back.set_defaults(func=cmd_models_rollback, needs_warehouse=True)


def cmd_models_list(args: argparse.Namespace) -> int:
    from liftline import registry

    table = registry.models(_engine())
    if args.json:
        print(json.dumps(_plain(table.to_dict("records")), indent=1, default=str))
        return 0
    if table.empty:
        print("no model has been trained yet: run `liftline run` (or trigger train_models)")
        return 0
    for row in table.itertuples(index=False):
        score = f"{row.metric} {row.score:.4g}" if _known(row.score) else "no backtest score"
        # pandas gives a model without a champion NaN, which is truthy.
        champion = row.champion if isinstance(row.champion, str) else "none (nothing promoted)"
        print(f"{row.model:24s} champion {champion}  ({score}; {row.versions} version(s))")
        if row.latest != row.champion:
            print(f"{'':24s} latest {row.latest}: {row.latest_status}"
                  + (f": {row.latest_reason}" if row.latest_reason else ""))
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    from liftline import registry
    from liftline.cli.main import UserError

    found = registry.versions(_engine(), args.model)
    if not found:
        raise UserError(f"no model {args.model!r} in the registry: see `liftline models list`")
    best = next((v for v in found if v.status == registry.CHAMPION), None)
    card = best.card().to_dict() if best else None
    if args.json:
        print(json.dumps(_plain({"model": args.model, "champion": card,
                                 "versions": [_version(v) for v in found]}),
                         indent=1, default=str))
        return 0
    print(f"{args.model}: {len(found)} version(s)")
    for v in found:
        reason = (v.metrics.get("promotion") or {}).get("reason") or v.metrics.get("reason")
        print(f"  {v.version:40s} {v.status:10s} data to {v.data_end}  "
              f"trained {str(v.trained_at)[:16]}" + (f"  ({reason})" if reason else ""))
    if card:
        print(f"champion {card['version']}: {card['metric']} {_number(card['score'])} vs "
              f"baseline {card['baseline']} {_number(card['baseline_score'])}; data "
              f"{card['data_start']} .. "
              f"{card['data_end']}; code {card['git_revision']}; spec {card['spec_hash']}")
    return 0


def cmd_models_rollback(args: argparse.Namespace) -> int:
    from liftline import registry
    from liftline.cli.main import UserError

    try:
        before, after = registry.rollback(_engine(), args.model, to=args.to)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"{args.model}: champion is now {after} (was {before or 'none'}); scoring uses it "
          "from its next run")
    return 0


def _engine():  # noqa: ANN202 - a SQLAlchemy Engine
    from liftline.warehouse import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


def _version(v: Any) -> dict[str, Any]:
    return {"version": v.version, "status": v.status, "run_id": v.run_id,
            "trained_at": v.trained_at, "data_end": v.data_end, "metrics": v.metrics}


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)


def _number(value: object) -> str:
    """A score as people read it (4 significant digits), or "none"."""
    return f"{value:.4g}" if _known(value) else "none"
