"""Marketing mix model and budget optimizer; see README.md in this package.

    from liftline.mmm import MarketingMixModel, MMMData, load_spec
    fit = MarketingMixModel(load_spec()).fit(data).fit_

From the warehouse: `fit_and_write_mmm(engine, run_id, country="ALL", segment="all")`.
"""

from .curves import ResponseCurve
from .design import LIFT_TEST_COLUMNS, Design, MMMData, MMMInputError, build_design
from .inputs import ALL_COUNTRIES, ALL_SEGMENTS, crm_last_touch, fit_keys, load_mmm_data
from .model import MarketingMixModel, MMMFit
from .optimizer import allocate_budget, target_efficiency
from .outputs import MMMOutcome, fit_and_write_all, fit_and_write_mmm, model_name, write_mmm_fit
from .ridge import ConstrainedRidge, solve_nonneg
from .spec import MMMSpec, SpecError, load_spec
from .transforms import GeometricAdstock, HillSaturation, WeibullAdstock, make_adstock

__all__ = [
    "ALL_COUNTRIES",
    "ALL_SEGMENTS",
    "ConstrainedRidge",
    "Design",
    "GeometricAdstock",
    "HillSaturation",
    "LIFT_TEST_COLUMNS",
    "MMMData",
    "MMMFit",
    "MMMInputError",
    "MMMOutcome",
    "MMMSpec",
    "MarketingMixModel",
    "ResponseCurve",
    "SpecError",
    "WeibullAdstock",
    "allocate_budget",
    "build_design",
    "crm_last_touch",
    "fit_and_write_all",
    "fit_and_write_mmm",
    "fit_keys",
    "load_mmm_data",
    "load_spec",
    "make_adstock",
    "model_name",
    "solve_nonneg",
    "target_efficiency",
    "write_mmm_fit",
]
