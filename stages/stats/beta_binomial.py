"""Beta-binomial view of per-problem success rates (Schaeffer et al. 2025).

"How do Large Language Monkeys get their power (laws)?": if per-problem success probabilities
are p_i ~ Beta(alpha, beta), coverage(k) = 1 - E[(1 - p)^k] = 1 - B(alpha, beta + k) / B(alpha,
beta) exactly, and the power-law exponent of -log coverage is set by the Beta's mass near p = 0.
(alpha, beta) are fitted by maximum likelihood of the beta-binomial of the observed (n_i, c_i)
-- not by fitting a Beta to c_i / n_i, which cannot take the many c_i = 0. Point estimate:
L-BFGS-B in (log alpha, log beta). Bootstrap replicates: all at once, by a batched damped Newton
method started at the point estimate, with a fast trigamma.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma

from stages.stats.bootstrap import distinct_counts

_LOG_BOUNDS = (np.log(1e-4), np.log(1e4))  # alpha, beta kept in [1e-4, 1e4]


def beta_coverage(alpha: npt.ArrayLike, beta: npt.ArrayLike, ks: npt.ArrayLike) -> np.ndarray:
    """1 - E[(1 - p)^k] for p ~ Beta(alpha, beta): 1 - B(alpha, beta + k) / B(alpha, beta)."""
    al, be = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    k = np.asarray(ks, dtype=np.float64)
    return 1.0 - np.exp(betaln(al, be + k) - betaln(al, be))


def beta_k_for(alpha: npt.ArrayLike, beta: npt.ArrayLike, target: float, k_cap: float = 1e9) -> np.ndarray:
    """Smallest integer k whose Beta-model coverage reaches ``target`` (inf beyond ``k_cap``).

    Vectorised bisection in log k (coverage is increasing in k), for scalars or arrays.
    """
    al = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    be = np.atleast_1d(np.asarray(beta, dtype=np.float64))
    lo, hi = np.zeros_like(al), np.log(np.full_like(al, k_cap))
    for _ in range(60):
        mid = (lo + hi) / 2
        reached = beta_coverage(al, be, np.exp(mid)) >= target
        hi, lo = np.where(reached, mid, hi), np.where(reached, lo, mid)
    k = np.ceil(np.exp(hi) - 1e-9)
    k = np.where(beta_coverage(al, be, 1.0) >= target, 1.0, k)
    out = np.where(beta_coverage(al, be, k_cap) >= target, k, np.inf)
    return out if np.ndim(alpha) else out[0]


def _trigamma(x: np.ndarray) -> np.ndarray:
    """psi'(x) for x > 0: recurrence up to x + 6, then the asymptotic series (error < 1e-11).

    scipy's polygamma(1, .) goes through the Hurwitz zeta and is ~15x slower; the batched
    bootstrap fit calls this on (B, P) arrays every Newton step.
    """
    acc = np.zeros_like(x)
    z = x.copy()
    for _ in range(6):
        acc += 1.0 / (z * z)
        z += 1.0
    inv = 1.0 / z
    inv2 = inv * inv
    series = inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))
    return acc + series


def bb_terms(al: np.ndarray, be: np.ndarray, n: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """Derivatives of log B(c + a, n - c + b) - log B(a, b) in (a, b), element by element:
    (d/da, d/db, d2/da2, d2/db2, d2/dadb). The beta-binomial fit here and the zero-inflated one
    (stages/stats/extrapolation/zero_inflated.py) both differentiate this term; it lives once."""
    s = al + be
    d_a = digamma(c + al) - digamma(n + s) - digamma(al) + digamma(s)
    d_b = digamma(n - c + be) - digamma(n + s) - digamma(be) + digamma(s)
    t_ab = -_trigamma(n + s) + _trigamma(s)
    t_aa = _trigamma(c + al) - _trigamma(al) + t_ab
    t_bb = _trigamma(n - c + be) - _trigamma(be) + t_ab
    return d_a, d_b, t_aa, t_bb, t_ab


def _bb_terms_loglik(theta: np.ndarray, n: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    al, be = np.exp(theta[:, :1]), np.exp(theta[:, 1:])
    return (w * (betaln(c + al, n - c + be) - betaln(al, be))).sum(1)


def _bb_loglik(theta: np.ndarray, n: np.ndarray, c: np.ndarray, w: np.ndarray) -> float:
    al, be = np.exp(theta)
    return float(np.sum(w * (betaln(c + al, n - c + be) - betaln(al, be))))


def _bb_grad_hess(theta: np.ndarray, n: np.ndarray, c: np.ndarray, w: np.ndarray):
    """Gradient and Hessian of the weighted log-likelihood in (log alpha, log beta), batched.

    ``theta`` is (B, 2); ``w`` is (B, P); returns g (B, 2), H (B, 2, 2), loglik (B,).
    """
    al, be = np.exp(theta[:, :1]), np.exp(theta[:, 1:])
    d_a, d_b, t_aa, t_bb, t_ab = bb_terms(al, be, n, c)
    ga, gb = (w * d_a).sum(1), (w * d_b).sum(1)
    haa, hbb, hab = (w * t_aa).sum(1), (w * t_bb).sum(1), (w * t_ab).sum(1)
    a1, b1 = al[:, 0], be[:, 0]
    grad = np.stack([ga * a1, gb * b1], axis=1)
    hess = np.empty((theta.shape[0], 2, 2))
    hess[:, 0, 0] = haa * a1 * a1 + ga * a1
    hess[:, 1, 1] = hbb * b1 * b1 + gb * b1
    hess[:, 0, 1] = hess[:, 1, 0] = hab * a1 * b1
    return grad, hess, _bb_terms_loglik(theta, n, c, w)


def fit_beta_binomial(n: npt.ArrayLike, c: npt.ArrayLike) -> tuple[float, float]:
    """Maximum-likelihood (alpha, beta) of the beta-binomial for per-problem counts."""
    n_arr, c_arr = np.asarray(n, dtype=np.float64), np.asarray(c, dtype=np.float64)
    w = np.ones_like(n_arr)
    m = float(np.clip((c_arr / n_arr).mean(), 1e-3, 1 - 1e-3))  # method-of-moments-ish start
    start = np.log([m, 1.0 - m])
    res = minimize(
        lambda t: -_bb_loglik(t, n_arr, c_arr, w),
        start,
        jac=lambda t: -_bb_grad_hess(t[None, :], n_arr, c_arr, w[None, :])[0][0],
        method="L-BFGS-B",
        bounds=[_LOG_BOUNDS, _LOG_BOUNDS],
    )
    al, be = np.exp(res.x)
    return float(al), float(be)


def fit_beta_binomial_batch(
    n: np.ndarray, c: np.ndarray, weights: np.ndarray, start: tuple[float, float], iters: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted beta-binomial MLE for every row of ``weights`` (B, P) at once.

    Damped Newton in log space from ``start`` (the full-data fit): each replicate's step is
    halved until its log-likelihood does not decrease, and replaced by a gradient step where the
    Hessian is not negative definite. Vectorised over replicates -- no loop over B. Problems
    enter through their distinct (n, c) pairs, and a replicate stops once its own step is below
    1e-6 (only the rows still moving are evaluated).
    """
    pairs, agg = distinct_counts(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64), weights)
    n_arr, c_arr = pairs[None, :, 0].astype(np.float64), pairs[None, :, 1].astype(np.float64)
    theta = np.tile(np.log(np.asarray(start, dtype=np.float64)), (weights.shape[0], 1))
    active = np.arange(theta.shape[0])
    for _ in range(iters):
        th, w = theta[active], agg[active]
        grad, hess, ll = _bb_grad_hess(th, n_arr, c_arr, w)
        det = hess[:, 0, 0] * hess[:, 1, 1] - hess[:, 0, 1] ** 2
        neg_def = (hess[:, 0, 0] < 0) & (det > 0)
        safe_det = np.where(neg_def, det, 1.0)
        newton = -np.stack(  # -H^{-1} g for a 2x2 H
            [
                (hess[:, 1, 1] * grad[:, 0] - hess[:, 0, 1] * grad[:, 1]) / safe_det,
                (hess[:, 0, 0] * grad[:, 1] - hess[:, 0, 1] * grad[:, 0]) / safe_det,
            ],
            axis=1,
        )
        scale = np.maximum(np.abs(grad).max(1, keepdims=True), 1.0)
        step = np.where(neg_def[:, None], newton, 0.1 * grad / scale)
        step = np.clip(step, -1.0, 1.0)
        factor = np.ones((th.shape[0], 1))
        accepted = np.zeros(th.shape[0], dtype=bool)
        new_theta = th.copy()
        for _ in range(8):  # step halving, batched over the rows not yet accepted
            todo = np.flatnonzero(~accepted)
            trial = np.clip(th[todo] + factor[todo] * step[todo], *_LOG_BOUNDS)
            good = _bb_terms_loglik(trial, n_arr, c_arr, w[todo]) >= ll[todo] - 1e-12
            new_theta[todo[good]] = trial[good]
            accepted[todo[good]] = True
            if accepted.all():
                break
            factor[todo[~good]] /= 2
        theta[active] = new_theta
        active = active[np.abs(new_theta - th).max(1) >= 1e-6]
        if active.size == 0:
            break
    al, be = np.exp(theta).T
    return al, be
