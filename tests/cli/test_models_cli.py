"""`liftline models list | show | rollback` over a warehouse with two versions of a model."""

from __future__ import annotations

import pytest

from liftline.cli.main import main
from liftline.modeling import Lifecycle
from liftline.registry import ModelCard, champion, register
from liftline.warehouse import create_schema, dispose_engines, get_engine, read_audit


def _card(score: float, run_id: str, data_end: str) -> ModelCard:
    return ModelCard(model="promo_lift", family="promo_lift", run_id=run_id, metric="mae_pp",
                     score=score, baseline="category_mean", baseline_score=30.0,
                     backtest_window={}, data_start="2024-01-01", data_end=data_end)


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("LIFTLINE_WAREHOUSE_URL", url)
    engine = get_engine(url)
    create_schema(engine)
    old = register(engine, _card(12.0, "r1", "2024-06-30"), {}, None, Lifecycle(),
                   log=lambda _: None)
    new = register(engine, _card(10.0, "r2", "2024-07-07"), {}, 12.0, Lifecycle(),
                   log=lambda _: None)
    yield engine, old.version, new.version
    dispose_engines()


def test_list_show_and_rollback(two_versions, capsys) -> None:
    engine, old, new = two_versions
    assert main(["models", "list"]) == 0
    assert f"champion {new}" in capsys.readouterr().out
    assert main(["models", "show", "promo_lift"]) == 0
    shown = capsys.readouterr().out
    assert old in shown and "retired" in shown and "code " in shown
    assert main(["models", "rollback", "promo_lift"]) == 0
    assert f"champion is now {old}" in capsys.readouterr().out
    assert champion(engine, "promo_lift").version == old
    assert len(read_audit(engine, action="rollback")) == 1


def test_a_model_never_promoted_lists_no_champion(two_versions, capsys) -> None:
    engine, _, _ = two_versions
    refused = ModelCard(model="mmm/ALL/all", family="mmm", run_id="r3", metric="cv_mape",
                        score=0.2, baseline="no_media", baseline_score=0.1, backtest_window={},
                        data_end="2024-07-07")
    register(engine, refused, {}, None, Lifecycle(), log=lambda _: None)
    assert main(["models", "list"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "mmm/ALL/all" in line]
    assert listed and "champion none (nothing promoted)" in listed[0] and "nan" not in listed[0]


def test_mistakes_are_one_line_errors(two_versions, capsys) -> None:
    assert main(["models", "show", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("liftline models show: no model 'nope'") and "\n" not in err
    assert main(["models", "rollback", "promo_lift", "--to", "v0"]) == 2
    assert "has no version 'v0'" in capsys.readouterr().err


def test_run_passes_the_chosen_model_families_and_refuses_unknown_ones(monkeypatch, capsys):
    import liftline.cli.run as runner

    seen = {}
    monkeypatch.setattr(runner, "run_pipeline", lambda **kwargs: seen.update(kwargs) or [])
    monkeypatch.setattr("liftline.cli.preflight.connect_warehouse", lambda *a, **k: None)
    assert main(["run", "--models", "promo_lift,mmm", "--full-refresh"]) == 0
    assert seen["models"] == ("promo_lift", "mmm") and seen["full_refresh"] is True
    with pytest.raises(SystemExit) as caught:
        main(["run", "--models", "nope"])
    assert caught.value.code == 2 and "unknown model family nope" in capsys.readouterr().err
