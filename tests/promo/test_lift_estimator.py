"""The lift model, the forecast candidates and the mix model share one estimator interface."""

from __future__ import annotations

import pandas as pd
import pytest
from promo_helpers import measured_frame, quick_spec

from liftline.forecast import (
    EnsembleForecaster,
    LightGBMForecaster,
    ProphetForecaster,
    SeasonalNaive,
)
from liftline.mmm.model import MarketingMixModel
from liftline.modeling import Estimator
from liftline.promo.model import LiftEstimator, train_lift_model


@pytest.mark.parametrize("cls", [SeasonalNaive, ProphetForecaster, LightGBMForecaster,
                                 EnsembleForecaster, LiftEstimator, MarketingMixModel])
def test_every_model_is_an_estimator_with_constructor_params(cls) -> None:
    assert issubclass(cls, Estimator)
    made = cls() if cls is not MarketingMixModel else cls(spec=None)
    params = made.get_params()
    assert "self" not in params and params == cls(**params).get_params()
    with pytest.raises(ValueError, match="has no parameter 'nope'"):
        made.set_params(nope=1)


def test_the_lift_estimator_fits_returns_itself_and_predicts_as_the_trained_model() -> None:
    measured = measured_frame()
    spec = quick_spec()
    estimator = LiftEstimator(spec, log=lambda _: None)
    with pytest.raises(RuntimeError, match="call fit"):
        estimator.predict(measured)
    assert estimator.fit(measured) is estimator
    direct = train_lift_model(measured, spec, log=lambda _: None)
    pd.testing.assert_frame_equal(estimator.predict(measured), direct.predict(measured))
