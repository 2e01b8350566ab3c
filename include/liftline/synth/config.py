"""Scales, catalogues and the fixed calendar of the synthetic world.

The world is defined over a fixed horizon starting at EPOCH, independent of which slice a caller
asks for, so `--start`/`--days` cut the same world and day-by-day deliveries fit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

EPOCH = date(2023, 1, 2)  # a Monday: the world's weeks start on Mondays
FUTURE_DAYS = 371  # the world runs on past the default history so later slices can be delivered
PLANNING_HORIZON_DAYS = 91  # promotions and holidays are known this far ahead of a delivery
FORMATS = ("csv", "csv.gz", "parquet")


@dataclass(frozen=True)
class Scale:
    name: str
    history_days: int
    countries: int
    regions_per_country: int
    stores: int
    categories: int
    skus_per_category: int
    consumers: int
    b2b_accounts: int
    store_chunk: int  # stores simulated together; memory grows with it, values do not change

    @property
    def horizon_days(self) -> int:
        return self.history_days + FUTURE_DAYS

    @property
    def skus(self) -> int:
        return self.categories * self.skus_per_category

    @property
    def last_day(self) -> date:
        return EPOCH + timedelta(days=self.horizon_days - 1)


SCALES: dict[str, Scale] = {
    "small": Scale("small", 730, 2, 2, 10, 4, 5, 1500, 120, 10),
    "medium": Scale("medium", 1095, 3, 3, 54, 10, 12, 20000, 600, 6),
    "large": Scale("large", 1095, 5, 4, 200, 15, 20, 100000, 2000, 3),
}

COUNTRIES = ("DE", "FR", "NL", "ES", "IT")
# National day per country (month, day): a closed public holiday beside the shared ones.
NATIONAL_DAYS = {"DE": (10, 3), "FR": (7, 14), "NL": (4, 27), "ES": (10, 12), "IT": (6, 2)}
SUNDAY_CLOSED = {"DE"}  # stores in these countries do not trade on Sundays


@dataclass(frozen=True)
class Category:
    name: str
    division: str
    season_amp: float  # amplitude of the yearly cycle
    season_peak_doy: int  # day of year of the peak
    christmas_lift: float  # extra demand at the height of the pre-Christmas ramp
    promo_sensitivity: float  # scales promotion lift
    price_range: tuple[float, float]
    margin: float  # (list_price - unit_cost) / list_price


CATEGORIES = (
    Category("beverages", "food", 0.22, 200, 0.25, 1.15, (0.9, 4.5), 0.30),
    Category("snacks", "food", 0.08, 180, 0.35, 1.30, (1.2, 4.0), 0.35),
    Category("dairy", "fresh", 0.05, 60, 0.15, 0.80, (0.6, 3.5), 0.22),
    Category("household", "non-food", 0.06, 100, 0.10, 0.90, (2.0, 12.0), 0.40),
    Category("personal_care", "non-food", 0.05, 160, 0.30, 1.00, (1.5, 9.0), 0.45),
    Category("frozen", "fresh", 0.15, 210, 0.20, 1.10, (2.0, 7.0), 0.28),
    Category("bakery", "fresh", 0.04, 330, 0.25, 0.70, (0.8, 3.5), 0.38),
    Category("pet_care", "non-food", 0.03, 120, 0.20, 0.85, (2.5, 15.0), 0.36),
    Category("confectionery", "food", 0.10, 350, 0.80, 1.25, (0.8, 5.0), 0.42),
    Category("electronics", "non-food", 0.12, 335, 0.60, 1.40, (15.0, 90.0), 0.25),
    Category("baby", "non-food", 0.02, 90, 0.10, 0.95, (3.0, 20.0), 0.33),
    Category("wine", "food", 0.18, 350, 0.55, 1.05, (4.0, 18.0), 0.40),
    Category("garden", "non-food", 0.40, 140, 0.05, 1.20, (3.0, 30.0), 0.45),
    Category("toys", "non-food", 0.08, 340, 0.90, 1.35, (5.0, 40.0), 0.40),
    Category("health", "non-food", 0.12, 15, 0.05, 0.75, (2.0, 12.0), 0.50),
)


@dataclass(frozen=True)
class Channel:
    name: str
    theta: tuple[float, float]  # weekly geometric adstock decay
    alpha: tuple[float, float]  # Hill shape
    roi: tuple[float, float]  # target POS return on spend over the history
    b2b_roi: tuple[float, float]  # target won-pipeline revenue per unit of spend
    budget_share: float
    flighting: str  # "flights", "monthly", "always_on", "bursts", "demand"
    cpm: float  # cost per thousand impressions
    ctr: float  # clicks per impression (0 where a channel has no clicks)
    video: bool = False


CHANNELS = (
    Channel("tv", (0.55, 0.75), (1.6, 2.6), (0.8, 1.8), (0.05, 0.15), 0.28, "flights", 18.0, 0.0),
    Channel("ooh", (0.40, 0.60), (1.2, 2.0), (0.4, 1.2), (0.03, 0.10), 0.10, "monthly", 6.0, 0.0),
    Channel(
        "online_video", (0.25, 0.45), (1.2, 2.2), (0.8, 2.0), (0.15, 0.35), 0.12, "flights",
        12.0, 0.002, video=True,
    ),
    Channel("social", (0.10, 0.30), (0.9, 1.6), (1.2, 2.8), (0.3, 0.6), 0.18, "always_on",
            7.0, 0.009),
    Channel("display", (0.05, 0.25), (0.8, 1.4), (0.3, 1.0), (0.2, 0.5), 0.10, "bursts", 3.0,
            0.004),
    Channel("search", (0.00, 0.10), (0.7, 1.2), (2.0, 4.0), (0.5, 1.0), 0.22, "demand", 25.0,
            0.045),
)


@dataclass(frozen=True)
class PromoType:
    name: str
    discounts: tuple[float, ...]  # possible depths, percent
    amplitude: float  # scales the discount response
    base_lift: float  # lift that needs no discount (display, flyer)
    fixed_cost: float


PROMO_TYPES = (
    PromoType("price_discount", (10, 15, 20, 25, 30, 40), 1.00, 0.00, 400.0),
    PromoType("bogo", (50,), 1.15, 0.00, 600.0),
    PromoType("multibuy", (20, 25, 33), 0.90, 0.00, 500.0),
    PromoType("display", (0,), 1.00, 0.15, 900.0),
    PromoType("flyer", (10, 15, 20, 25), 0.95, 0.10, 1500.0),
)
PROMO_TYPE_WEIGHTS = (0.40, 0.12, 0.15, 0.13, 0.20)
LIFT_MAX = 1.2  # lift fraction a very deep discount approaches (before type and category)
LIFT_DISCOUNT_SCALE = 20.0  # percent: the discount response is 1 - exp(-discount / scale)
NO_EFFECT_SHARE = 0.08  # promotions that, as executed, move nothing
UNDERSTOCKED_SHARE = 0.12  # promotions whose stores did not stock up for the lift
DIP_DAYS = 7  # post-promotion dip length
LIFT_NOISE_SD = 0.15  # a promotion's lift is true_lift x lognormal(0, this) as executed
DIP_SHARE_RANGE = (0.15, 0.4)  # uniform: share of the extra units a dip gives back
CANNIB_SHARE_RANGE = (0.1, 0.3)  # uniform: share of the lift taken from siblings (SKU promotions)
PROMO_COST_PER_STORE = 35.0  # per store and SKU promotion (x4 for a whole category), beside the fixed cost

@dataclass(frozen=True)
class Scenario:
    """How the world departs from the standard one (`liftline generate --scenario`).

    confounded: a weekly demand driver that no extract carries (local buzz, competitor
    stock-outs, weather) moves organic demand, and the budget planners, who see it coming,
    spend more on `planned_channels` when it is high (spend x exp(elasticity x driver)).
    Search follows organic demand in every world, so it follows the hidden driver too. The
    world's lift tests are geo experiments on `tested_channels` only, each with a stated
    standard error of `lift_relative_se` of its estimate.

    In every world a test of a reach channel (bought in flights or monthly: TV, OOH, online
    video) keeps counting lost revenue `lift_post_weeks` after its 4 dark weeks
    (`measured_until`), as experimenters do for media whose effect lingers.
    """

    name: str
    driver_sd: float = 0.0  # stationary sd of the hidden driver (log demand)
    driver_persistence: float = 0.0  # AR(1) coefficient week to week
    planned_channels: tuple[tuple[str, float], ...] = ()  # (channel, spend elasticity)
    tested_channels: tuple[str, ...] = ()  # () = every channel (standard lift tests)
    lift_relative_se: float = 0.0
    lift_tests_per_channel: int = 2
    lift_post_weeks: int = 8


SCENARIOS: dict[str, Scenario] = {
    "standard": Scenario("standard"),
    "confounded": Scenario("confounded", driver_sd=0.05, driver_persistence=0.8,
                           planned_channels=(("social", 4.0),),
                           tested_channels=("social", "search"), lift_relative_se=0.10,
                           lift_tests_per_channel=2),
}

# When an opportunity enters Prospecting, Qualification, Proposal, Negotiation: fractions of
# its sales cycle (it closes at 1.0).
CRM_STAGE_FRACTIONS = (0.0, 0.15, 0.45, 0.75)
