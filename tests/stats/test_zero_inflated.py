"""The zero-inflated beta-binomial's exact derivatives are those of its likelihood (central
differences agree), for c = 0 (the mixture term) and c > 0 alike, and the fit uses them."""

from __future__ import annotations

import numpy as np

from stages.stats.extrapolation.mixture import _grad_hess
from stages.stats.extrapolation.zero_inflated import zi_derivatives, zi_unit_loglik


def test_exact_gradient_and_hessian_match_central_differences() -> None:
    rng = np.random.default_rng(0)
    pairs = np.array([[100, 0], [100, 3], [100, 50], [2000, 0], [2000, 1999], [250, 0]])
    agg = rng.random((5, pairs.shape[0])) * 3
    theta = np.column_stack([rng.normal(0, 2, 5), rng.normal(0, 1.5, 5), rng.normal(0, 1.5, 5)])
    f, grad, hess = zi_derivatives(theta, pairs, agg)
    f_fd, grad_fd, hess_fd = _grad_hess(lambda t: (agg * zi_unit_loglik(t, pairs)).sum(1), theta, h=1e-4)
    np.testing.assert_array_equal(f, f_fd)
    np.testing.assert_allclose(grad, grad_fd, rtol=1e-6, atol=1e-6 * np.abs(grad).max())
    np.testing.assert_allclose(hess, hess_fd, rtol=1e-4, atol=1e-4 * np.abs(hess).max())
    np.testing.assert_array_equal(hess, np.swapaxes(hess, 1, 2))


def test_only_zero_counts_mix_pi0_into_the_beta_terms() -> None:
    """With no c = 0 the likelihood separates: d/d logit(pi0) is -pi0 per unit weight and the
    cross terms vanish."""
    pairs = np.array([[50, 5], [50, 20]])
    theta = np.array([[0.3, -0.5, 0.7]])
    agg = np.array([[2.0, 1.0]])
    _, grad, hess = zi_derivatives(theta, pairs, agg)
    pi0 = 1 / (1 + np.exp(-0.3))
    assert np.isclose(grad[0, 0], -3 * pi0) and np.isclose(hess[0, 0, 0], -3 * pi0 * (1 - pi0))
    assert hess[0, 0, 1] == 0 and hess[0, 0, 2] == 0
