"""Every model spec is read strictly: an unknown or misspelt key is a one-line error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from liftline import settings
from liftline.forecast import load_spec as load_forecast_spec
from liftline.mmm import load_spec as load_mmm_spec
from liftline.modeling import Lifecycle, SpecError, lifecycle_of, read_spec
from liftline.promo.spec import load_spec as load_promo_spec

MODELS = settings.project_root() / "models"


def _copy_with(tmp_path: Path, name: str, change) -> Path:  # noqa: ANN001 - a mutator
    raw = yaml.safe_load((MODELS / name).read_text())
    change(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("name", "loader", "change", "key"), [
    ("sales_forecast.yaml", load_forecast_spec,
     lambda r: r.update(horizon_day=28), "horizon_day"),
    ("sales_forecast.yaml", load_forecast_spec,
     lambda r: r["backtest"].update(origin=5), "backtest.origin"),
    ("promo_lift.yaml", load_promo_spec,
     lambda r: r["monitor"].update(divergence=4), "monitor.divergence"),
    ("promo_lift.yaml", load_promo_spec,
     lambda r: r.update(lifecycle={"promotion_margn": 0.1}), "lifecycle.promotion_margn"),
    ("mmm.yaml", load_mmm_spec,
     lambda r: r["search"].update(budgte=3), "search.budgte"),
])
def test_an_unknown_key_is_refused_naming_it_and_the_file(tmp_path, name, loader, change,
                                                          key) -> None:
    path = _copy_with(tmp_path, name, change)
    with pytest.raises(SpecError) as caught:
        loader(path)
    message = str(caught.value)
    assert f"'{key}'" in message and str(path) in message and "\n" not in message


def test_the_project_specs_load_and_carry_their_lifecycle() -> None:
    for loader in (load_forecast_spec, load_promo_spec, load_mmm_spec):
        assert isinstance(loader().lifecycle, Lifecycle)


def test_lifecycle_settings_are_read_and_checked(tmp_path) -> None:
    path = tmp_path / "x.yaml"
    assert lifecycle_of({"lifecycle": {"promotion_margin": 0.1}}, path).promotion_margin == 0.1
    assert lifecycle_of({}, path) == Lifecycle()
    with pytest.raises(SpecError, match="promotion_margin"):
        lifecycle_of({"lifecycle": {"promotion_margin": 1.5}}, path)


def test_bad_yaml_and_a_missing_file_are_one_line_errors(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(SpecError, match="not valid YAML") as caught:
        read_spec(bad, "forecast spec")
    assert "\n" not in str(caught.value)
    with pytest.raises(SpecError, match="not found"):
        read_spec(tmp_path / "missing.yaml", "forecast spec")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SpecError, match="must be a mapping"):
        read_spec(tmp_path / "list.yaml", "forecast spec")
