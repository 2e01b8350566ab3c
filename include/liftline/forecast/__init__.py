"""Sales forecasting: store x day and store x category x week, 56 days ahead.

Candidates behind one estimator interface (`fit(history)`, `predict(future)`): the
seasonal-naive baseline, Prophet per store with driver regressors, a global direct
multi-horizon LightGBM and their ensemble. `train_forecasts` backtests them per region and
keeps the champions with their conformal calibration; `score_forecasts` writes
`ml_sales_forecast` and `forecast_drop` alerts. Method and decisions: README.md here.
"""

from .backtest import backtest_origins, run_backtest
from .base import Forecaster
from .candidates import EnsembleForecaster, make_forecaster
from .conformal import ResidualQuantiles
from .dataset import Dataset, load_dataset
from .frames import KEY as SERIES_KEY
from .lgbm import LightGBMForecaster
from .metrics import bias, coverage, mape, rmse, wape
from .naive import SeasonalNaive
from .prophet_model import ProphetForecaster
from .score import score_forecasts
from .spec import ForecastSpec, load_spec
from .train import train_forecasts, training_regions

__all__ = [
    "SERIES_KEY",
    "Dataset",
    "EnsembleForecaster",
    "ForecastSpec",
    "Forecaster",
    "LightGBMForecaster",
    "ProphetForecaster",
    "ResidualQuantiles",
    "SeasonalNaive",
    "backtest_origins",
    "bias",
    "coverage",
    "load_dataset",
    "load_spec",
    "make_forecaster",
    "mape",
    "rmse",
    "run_backtest",
    "score_forecasts",
    "train_forecasts",
    "training_regions",
    "wape",
]
