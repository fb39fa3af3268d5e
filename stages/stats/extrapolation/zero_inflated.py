"""The zero-inflated beta-binomial's exact log-likelihood and its exact derivatives.

A share pi0 of problems is never solvable (p = 0), the rest have p ~ Beta(a, b): per problem
P(c | n) = pi0 [c = 0] + (1 - pi0) C(n, c) B(c + a, n - c + b) / B(a, b). The parameters are
unconstrained, theta = (logit pi0, log a, log b). The bootstrap refits every replicate to
convergence (``mixture.fit_family``), so its Newton steps take the gradient and Hessian from
here (digamma / trigamma, ``beta_binomial.bb_terms``) instead of finite differences: one pass
over the (replicate, count) cells per step instead of ten, and the step goes to the maximum of
the likelihood itself, not to that of a difference quotient.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import betaln, expit

from stages.stats.beta_binomial import bb_terms


class _Parts(NamedTuple):
    """The likelihood's pieces at theta, kept for the derivatives."""

    ll: np.ndarray  # (B, U) log-likelihoods, up to the constant log C(n, c)
    beta_part: np.ndarray  # (B, U) the Beta component's log term log(1 - pi0) + log B-ratio
    zero: np.ndarray  # (1, U) the c = 0 mask
    a: np.ndarray  # (B, 1) Beta's a and b
    b: np.ndarray
    nn: np.ndarray  # (1, U) n and c as floats
    cc: np.ndarray


def _parts(theta: np.ndarray, pairs: np.ndarray) -> _Parts:
    lp0, a, b = -np.logaddexp(0, -theta[:, :1]), np.exp(theta[:, 1:2]), np.exp(theta[:, 2:3])
    lq = -np.logaddexp(0, theta[:, :1])  # log(1 - pi0)
    nn, cc = pairs[None, :, 0].astype(np.float64), pairs[None, :, 1].astype(np.float64)
    beta_part = lq + betaln(cc + a, nn - cc + b) - betaln(a, b)
    zero = cc == 0
    return _Parts(np.where(zero, np.logaddexp(lp0, beta_part), beta_part), beta_part, zero, a, b, nn, cc)


def zi_unit_loglik(theta: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(B, U) exact log P(c_u | n_u) under theta[b], up to the constant log C(n, c)."""
    return _parts(theta, pairs).ll


def zi_derivatives(theta: np.ndarray, pairs: np.ndarray, agg: np.ndarray) -> tuple[np.ndarray, ...]:
    """(f (B,), gradient (B, 3), Hessian (B, 3, 3)) of sum_u agg[b, u] log P(c_u | n_u; theta[b]).

    For c > 0 the log-likelihood is log(1 - pi0) + L(a, b); for c = 0 it is
    log(pi0 + (1 - pi0) e^L), a log-sum-exp whose derivatives weigh each term by its
    responsibility r (the Beta component's share): with A = log pi0 and B = log(1 - pi0) + L,
    grad = (1 - r) dA + r dB and Hess = (1 - r) d2A + r d2B + r (1 - r) (dB - dA)(dB - dA)^T.
    """
    ll, beta_part, zero, a, b, nn, cc = _parts(theta, pairs)
    pi0 = expit(theta[:, :1])
    d_a, d_b, t_aa, t_bb, t_ab = bb_terms(a, b, nn, cc)
    ga, gb = a * d_a, b * d_b  # dL / d log a, dL / d log b
    haa, hbb, hab = ga + a * a * t_aa, gb + b * b * t_bb, a * b * t_ab
    r = np.where(zero, np.exp(beta_part - ll), 1.0)
    q = r * (1.0 - r)  # dB - dA = (-1, ga, gb)
    cells = {  # per (replicate, count) terms, summed with the weights below
        "t": 1.0 - r - pi0, "a": r * ga, "b": r * gb,
        "tt": q - pi0 * (1.0 - pi0), "ta": -q * ga, "tb": -q * gb,
        "aa": r * haa + q * ga * ga, "bb": r * hbb + q * gb * gb, "ab": r * hab + q * ga * gb,
    }
    s = {k: (agg * v).sum(axis=1) for k, v in cells.items()}
    grad = np.stack([s["t"], s["a"], s["b"]], axis=1)
    hess = np.stack([np.stack([s["tt"], s["ta"], s["tb"]], 1), np.stack([s["ta"], s["aa"], s["ab"]], 1),
                     np.stack([s["tb"], s["ab"], s["bb"]], 1)], axis=1)
    return (agg * ll).sum(axis=1), grad, hess
