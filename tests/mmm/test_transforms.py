"""Adstock and saturation against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from liftline.mmm import GeometricAdstock, HillSaturation, WeibullAdstock


def test_geometric_adstock_carries_over_by_theta():
    x = np.array([1.0, 0.0, 0.0, 2.0])
    # 1; 0 + 0.5*1; 0 + 0.5*0.5; 2 + 0.5*0.25
    assert GeometricAdstock().apply(x, theta=0.5) == pytest.approx([1.0, 0.5, 0.25, 2.125])


def test_geometric_adstock_per_channel_and_batched_agree():
    x = np.array([[100.0, 0.0], [0.0, 10.0], [50.0, 10.0]])
    per_channel = GeometricAdstock().apply(x, theta=np.array([0.1, 0.9]))
    assert per_channel[:, 0] == pytest.approx([100.0, 10.0, 51.0])
    assert per_channel[:, 1] == pytest.approx([0.0, 10.0, 19.0])
    batched = GeometricAdstock().apply(x, theta=np.array([[0.1, 0.9], [0.0, 0.0]]))
    assert batched.shape == (2, 3, 2)
    assert batched[0] == pytest.approx(per_channel)
    assert batched[1] == pytest.approx(x)  # theta 0: no carry-over


def test_weibull_adstock_weights_sum_to_one_and_shape_moves_the_peak():
    adstock = WeibullAdstock(l_max=8)
    quick = adstock.weights(shape=0.8, scale=0.1)
    late = adstock.weights(shape=3.0, scale=0.4)
    assert quick.sum() == pytest.approx(1.0) and late.sum() == pytest.approx(1.0)
    assert np.argmax(quick) == 0 and np.argmax(late) > 0
    # A unit of spend is spread over the next weeks by exactly these weights.
    pulse = np.zeros(10)
    pulse[1] = 1.0
    assert adstock.apply(pulse, shape=3.0, scale=0.4)[1:9] == pytest.approx(late)


def test_hill_with_gamma_relative_to_the_range():
    x = np.array([0.0, 1.0, 2.0, 4.0])
    # range [0, 4], gamma 0.25 -> inflexion 1; alpha 2: x^2 / (x^2 + 1)
    assert HillSaturation().apply(x, alpha=2.0, gamma=0.25) == pytest.approx(
        [0.0, 0.5, 0.8, 16.0 / 17.0])
    # inflexion 2 with alpha 1: x / (x + 2)
    assert HillSaturation().apply(x, alpha=1.0, gamma=0.5) == pytest.approx(
        [0.0, 1.0 / 3.0, 0.5, 4.0 / 6.0])


def test_hill_keeps_the_fitted_span_for_new_spend():
    fitted = np.array([0.0, 1.0, 2.0, 4.0])
    more = HillSaturation().apply(fitted * 2, alpha=1.0, gamma=0.5,
                                  span=(np.array(0.0), np.array(4.0)))
    assert more == pytest.approx([0.0, 0.5, 4.0 / 6.0, 0.8])


def test_adstock_then_saturation_and_the_hill_elasticity():
    spend = np.array([[10.0], [0.0], [5.0], [20.0]])
    adstocked = GeometricAdstock().apply(spend, theta=np.array([0.5]))
    assert adstocked[:, 0] == pytest.approx([10.0, 5.0, 7.5, 23.75])
    h = HillSaturation.at_inflexion(adstocked, np.array([1.5]), np.array([8.0]))
    expected = adstocked**1.5 / (adstocked**1.5 + 8.0**1.5)
    assert h == pytest.approx(expected)
    # x dh/dx = alpha h (1 - h), checked by a finite difference
    eps = 1e-6
    numeric = (HillSaturation.at_inflexion(adstocked * (1 + eps), np.array([1.5]),
                                           np.array([8.0])) - h) / eps
    assert numeric == pytest.approx(HillSaturation.elasticity(h, 1.5), rel=1e-4)
