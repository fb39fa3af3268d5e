"""Parametric per-problem solve-rate distributions, fitted by maximum likelihood on (n_i, c_i).

Coverage at k of a benchmark whose per-problem pass@1 rates p_i follow a distribution F is
``1 - E_F[(1 - p)^k]`` (Schaeffer et al. 2025, "How Do Large Language Monkeys Get Their Power
(Laws)?"). Real sampling data has a heavy left tail of p and problems no amount of sampling
solves, so two families beyond the plain Beta are fitted:

* ``scaled_beta``: p = s * X with X ~ Beta(a, b), 0 < s <= 1 -- the three-parameter ("scaled")
  Beta of Schaeffer et al. 2025: the Beta's mass near 0 sets the power-law exponent, s caps the
  easiest problems below 1.
* ``zi_beta``: a share pi0 of problems with p = 0 exactly (never solvable), Beta(a, b) on the
  rest; coverage tends to 1 - pi0, not to 1.

Both likelihoods are the binomial mixture P(c | n) = int Binom(c; n, p) dF(p), evaluated on one
fixed grid of p (log-spaced towards 0 and towards 1, where the counts are most informative, plus
an atom at p = 0): the distribution enters only through its cell masses (Beta CDF differences,
smooth in the parameters), so the log-likelihood of all bootstrap replicates at once is one
matrix product. Problems enter through their distinct (n, c) pairs with replicate weights.
Fitting is a batched damped Newton method in unconstrained parameters with finite-difference
derivatives; the point estimate runs it from several starts and keeps the best.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc, betaln, expit, gammaln, xlog1py, xlogy

from stages.stats.bootstrap import distinct_counts
from stages.stats.extrapolation.zero_inflated import zi_derivatives, zi_unit_loglik

_DECADES, _CELLS = 10, 240  # grid: 1e-10 .. 0.5 and 0.5 .. 1 - 1e-10, _CELLS cells each half
_BOX = (-12.0, 12.0)  # unconstrained parameters are kept in this box (logit / log scale)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """(edges, mids) of the p grid on (0, 1): log-spaced in p below 1/2 and in 1 - p above."""
    low = np.logspace(-_DECADES, np.log10(0.5), _CELLS + 1)
    edges = np.concatenate([[0.0], low, 1.0 - low[-2::-1], [1.0]])
    lo, hi = edges[1:-2], edges[2:-1]  # interior cells; the two end cells get their midpoints
    mids = np.sqrt(lo * hi)  # geometric mid in p (lower half) ...
    upper = lo >= 0.5
    mids[upper] = 1.0 - np.sqrt((1 - lo[upper]) * (1 - hi[upper]))  # ... and in 1 - p (upper half)
    mids = np.concatenate([[edges[1] / 2], mids, [1.0 - edges[-2] / 2]])
    return edges, mids


EDGES, MIDS = _grid()
P_GRID = np.concatenate([[0.0], MIDS])  # index 0: the atom at p = 0 (zero-inflation)


def _beta_cells(a: np.ndarray, b: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """(B, G) masses of s * Beta(a, b) on the grid cells (atom column 0 left at 0)."""
    x = np.clip(EDGES[None, :] / np.asarray(scale, dtype=np.float64).reshape(-1, 1), 0.0, 1.0)
    cdf = betainc(a[:, None], b[:, None], x)
    return np.concatenate([np.zeros((cdf.shape[0], 1)), np.diff(cdf, axis=1)], axis=1)


@dataclass(frozen=True)
class Family:
    """A distribution of p: parameter names, cell masses of unconstrained theta, start points."""

    name: str
    names: tuple[str, ...]
    masses: Callable[[np.ndarray], np.ndarray]  # theta (B, d) -> (B, G) on P_GRID
    natural: Callable[[np.ndarray], np.ndarray]  # theta (B, d) -> (B, d) named parameters
    starts: Callable[[float, float], np.ndarray]  # (share of c = 0, mean c / n) -> (S, d)


def _zi_masses(theta: np.ndarray) -> np.ndarray:
    pi0 = expit(theta[:, 0])
    cells = _beta_cells(np.exp(theta[:, 1]), np.exp(theta[:, 2])) * (1 - pi0)[:, None]
    cells[:, 0] = pi0
    return cells


def _zi_starts(zero_share: float, mean: float) -> np.ndarray:
    rows = [(pi0 * max(zero_share, 0.02), a, 2.0) for pi0 in (0.2, 0.7, 0.95) for a in (0.2, 0.8)]
    return np.array([(np.log(p / (1 - p)), np.log(a), np.log(b)) for p, a, b in rows])


def _scaled_masses(theta: np.ndarray) -> np.ndarray:
    return _beta_cells(np.exp(theta[:, 0]), np.exp(theta[:, 1]), expit(theta[:, 2]))


def _scaled_starts(zero_share: float, mean: float) -> np.ndarray:
    rows = [(a, b, s) for a in (0.1, 0.4) for b in (0.5, 2.0) for s in (0.5, 0.99)]
    return np.array([(np.log(a), np.log(b), np.log(s / (1 - s))) for a, b, s in rows])


FAMILIES = {
    "zi_beta": Family("zi_beta", ("pi0", "alpha", "beta"), _zi_masses,
                      lambda t: np.stack([expit(t[:, 0]), np.exp(t[:, 1]), np.exp(t[:, 2])], 1), _zi_starts),
    "scaled_beta": Family("scaled_beta", ("alpha", "beta", "scale"), _scaled_masses,
                          lambda t: np.stack([np.exp(t[:, 0]), np.exp(t[:, 1]), expit(t[:, 2])], 1),
                          _scaled_starts),
}


def grid_logpmf(pairs: np.ndarray) -> np.ndarray:
    """(U, G) binomial log-pmfs of the (n, c) pairs at every p of P_GRID."""
    nn, cc = pairs[:, :1].astype(np.float64), pairs[:, 1:].astype(np.float64)
    p = P_GRID[None, :]
    logpmf = gammaln(nn + 1) - gammaln(cc + 1) - gammaln(nn - cc + 1) + xlogy(cc, p) + xlog1py(nn - cc, -p)
    return logpmf


@dataclass(frozen=True)
class GridLik:
    """Binomial likelihoods of the distinct (n, c) pairs at every p of P_GRID, each row scaled by
    its largest value (``dens`` = exp(logpmf - top)): computed once per fit, since a Newton
    fit evaluates the likelihood thousands of times and the exponentials were most of it."""

    dens: np.ndarray  # (U, G)
    top: np.ndarray  # (U,)

    @classmethod
    def of(cls, pairs: np.ndarray) -> GridLik:
        logpmf = grid_logpmf(pairs)
        top = logpmf.max(axis=1)
        return cls(np.exp(logpmf - top[:, None]), top)


def loglik(family: Family, theta: np.ndarray, data: np.ndarray | GridLik, agg: np.ndarray) -> np.ndarray:
    """(B,) weighted log-likelihood of row b of ``agg`` under theta[b] (``data``: the (n, c)
    pairs for the exact zero-inflated family, their :class:`GridLik` for the others)."""
    if family.name == "zi_beta":
        return (agg * zi_unit_loglik(theta, data)).sum(axis=1)
    lik = family.masses(theta) @ data.dens.T  # (B, U)
    with np.errstate(divide="ignore"):
        return (agg * (np.log(np.maximum(lik, 1e-300)) + data.top[None, :])).sum(axis=1)


def _grad_hess(f: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = 1e-3):
    """Central-difference gradient and Hessian of a batched f: (B, d) -> (B,)."""
    b, d = theta.shape
    f0 = f(theta)
    eye = np.eye(d) * h
    plus = np.stack([f(theta + eye[i]) for i in range(d)], 1)
    minus = np.stack([f(theta - eye[i]) for i in range(d)], 1)
    grad = (plus - minus) / (2 * h)
    hess = np.empty((b, d, d))
    for i in range(d):
        hess[:, i, i] = (plus[:, i] - 2 * f0 + minus[:, i]) / h**2
        for j in range(i + 1, d):
            both = f(theta + eye[i] + eye[j])
            hess[:, i, j] = hess[:, j, i] = (both - plus[:, i] - plus[:, j] + f0) / h**2
    return f0, grad, hess


def _held_at_box(theta: np.ndarray, grad: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected Newton: a coordinate at the box, pushed outwards, is held there (its gradient
    zeroed, its Hessian row and column replaced by -1 on the diagonal), so the step moves the
    others only. Without it, a parameter pinned at the box (scale -> 1) leaves a near-zero
    curvature whose rounding noise the step divides by."""
    held = ((theta <= _BOX[0] + 1e-9) & (grad < 0)) | ((theta >= _BOX[1] - 1e-9) & (grad > 0))
    pair = held[:, :, None] | held[:, None, :]
    eye = np.einsum("bi,ij->bij", held.astype(np.float64), np.eye(theta.shape[1]))
    return np.where(held, 0.0, grad), np.where(pair, 0.0, hess) - eye


def _newton_step(grad: np.ndarray, hess: np.ndarray) -> np.ndarray:
    """-H^{-1} g per row; directions of non-negative curvature get a gradient step instead
    (curvature replaced by 1e-3 of the largest), and the step is capped at length 2."""
    vals, vecs = np.linalg.eigh(-hess)
    big = np.maximum(np.abs(vals).max(1, keepdims=True), 1e-8)
    vals = np.where(vals > 1e-12 * big, vals, 1e-3 * big)
    step = np.einsum("bij,bj->bi", vecs, np.einsum("bji,bj->bi", vecs, grad) / vals)
    return step * np.minimum(1.0, 2.0 / np.maximum(np.linalg.norm(step, axis=1, keepdims=True), 1e-300))


def newton(f: Callable[[np.ndarray, np.ndarray], np.ndarray], theta: np.ndarray, iters: int = 40,
           tol: float = 1e-5, derivs: Callable[[np.ndarray, np.ndarray], tuple] | None = None) -> np.ndarray:
    """Maximise each row's f from ``theta`` (B, d): damped Newton with eigenvalue-clipped Hessian.

    ``f(theta_rows, rows)`` evaluates the objectives of batch rows ``rows``. A row's step is
    halved until its f does not decrease; a row stops (and is no longer evaluated) once its
    step is below ``tol`` (1e-5 in log / logit parameters moves coverage by < 1e-5) or its
    log-likelihood gain below 1e-9. ``derivs(theta_rows, rows)`` -> (f, gradient, Hessian), when
    given, replaces the central differences of f.
    """
    theta = np.clip(theta.astype(np.float64), *_BOX)
    active = np.arange(theta.shape[0])
    for _ in range(iters):
        th = theta[active]
        if derivs is not None:
            f0, grad, hess = derivs(th, active)
        else:
            f0, grad, hess = _grad_hess(lambda t, rows=active: f(t, rows), th)
        step = _newton_step(*_held_at_box(th, grad, hess))
        factor, moved = np.ones((th.shape[0], 1)), np.zeros(th.shape[0], dtype=bool)
        new, gain = th.copy(), np.zeros(th.shape[0])
        for _ in range(10):  # halve the step of each row that has not moved yet (only those are evaluated)
            todo = np.flatnonzero(~moved)
            trial = np.clip(th[todo] + factor[todo] * step[todo], *_BOX)
            f_trial = f(trial, active[todo])
            good = f_trial >= f0[todo] - 1e-10
            done = todo[good]
            new[done], gain[done], moved[done] = trial[good], (f_trial - f0[todo])[good], True
            if moved.all():
                break
            factor[todo[~good]] /= 2
        # a long step too: towards a flat boundary (pi0 -> 0: f ~ c + k e^x) Newton moves by ~1 a
        # step; taken where it beats both the halved step and the start
        long = np.clip(th + 8.0 * step, *_BOX)
        f_long = f(long, active)
        better = f_long > f0 + gain
        new[better], gain[better] = long[better], (f_long - f0)[better]
        theta[active] = new
        # converged: the step is tiny, or it no longer buys likelihood (a flat ridge, e.g. pi0 -> 0)
        active = active[(np.abs(new - th).max(1) >= tol) & (gain >= 1e-9)]
        if active.size == 0:
            break
    return theta


def fit_family(name: str, n: np.ndarray, c: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Unconstrained MLE theta (1 + B, d): row 0 from the data, rows 1.. per ``weights`` row.

    The point fit runs Newton from every start of the family and keeps the best. Replicates use
    the one-step bootstrap (Andrews 2002, "Higher-order improvements of a computationally
    attractive k-step bootstrap for extremum estimators"): one Newton step of each replicate's
    own log-likelihood from the point fit, built from per-(n, c) scores and Hessians computed
    once, then halved until that log-likelihood does not decrease. Refitting 1000 replicates
    from scratch costs ~100x more for intervals that agree to first order.
    """
    family = FAMILIES[name]
    n_arr, c_arr = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    pairs, agg1 = distinct_counts(n_arr, c_arr, np.ones((1, n_arr.size)))
    data = pairs if name == "zi_beta" else GridLik.of(pairs)
    starts = family.starts(float(np.mean(c_arr == 0)), float(np.mean(c_arr / n_arr)))
    agg_s = np.repeat(agg1, starts.shape[0], axis=0)
    exact = name == "zi_beta"  # exact likelihood and derivatives (zero_inflated.py)

    def fit(theta: np.ndarray, agg: np.ndarray) -> np.ndarray:  # row b of theta maximises row b of agg
        return newton(lambda t, r: loglik(family, t, data, agg[r]), theta,
                      derivs=(lambda t, r: zi_derivatives(t, data, agg[r])) if exact else None)

    cands = fit(starts, agg_s)
    point = fit(cands[np.argmax(loglik(family, cands, data, agg_s))][None, :], agg1)
    if weights.shape[0] == 0:
        return point
    _, agg = distinct_counts(n_arr, c_arr, weights)
    if exact:  # cheap enough that every replicate is refitted to convergence
        return np.concatenate([point, fit(np.repeat(point, weights.shape[0], 0), agg)])
    def per_unit(theta: np.ndarray) -> np.ndarray:  # row u: log P(c_u | n_u) under theta[u]
        return np.log(np.maximum((family.masses(theta) * data.dens).sum(1), 1e-300)) + data.top

    _, g_u, h_u = _grad_hess(per_unit, np.repeat(point, data.dens.shape[0], 0))
    grad, hess = agg @ g_u, np.einsum("bu,uij->bij", agg, h_u)
    reps = np.repeat(point, weights.shape[0], 0)
    step = _newton_step(*_held_at_box(reps, grad, hess))
    base = loglik(family, reps, data, agg)
    todo = np.ones(reps.shape[0], dtype=bool)
    for half in range(6):
        trial = np.clip(point + step[todo] / 2**half, *_BOX)
        good = loglik(family, trial, data, agg[todo]) >= base[todo] - 1e-10
        idx = np.flatnonzero(todo)[good]
        reps[idx] = trial[good]
        todo[idx] = False
        if not todo.any():
            break
    return np.concatenate([point, reps])


def _fail(ks: np.ndarray) -> np.ndarray:
    """(G, K) probability (1 - p_g)^k that k samples all fail, at every grid p."""
    return np.exp(np.asarray(ks, dtype=np.float64)[None, :] * np.log1p(-np.minimum(P_GRID, 1 - 1e-16))[:, None])


def family_coverage(name: str, theta: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """(B, K) coverage 1 - E[(1 - p)^k] of NEW problems drawn from each theta row's F at each k
    (the estimators predict the coverage of the observed problems: :func:`posterior_coverage`)."""
    if name == "zi_beta":  # exact: (1 - pi0) (1 - B(a, b + k) / B(a, b))
        a, b = np.exp(theta[:, 1:2]), np.exp(theta[:, 2:3])
        k = np.asarray(ks, dtype=np.float64)[None, :]
        return expit(-theta[:, :1]) * (1.0 - np.exp(betaln(a, b + k) - betaln(a, b)))
    return 1.0 - FAMILIES[name].masses(theta) @ _fail(ks)


def beta_masses(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, G) cell masses of Beta(a[b], b[b]) on P_GRID (the plain ``beta`` estimator's prior)."""
    return _beta_cells(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def posterior_coverage(masses: np.ndarray, pairs: np.ndarray, agg: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """(B, K) expected coverage at k of THESE problems, each conditioned on its own count.

    The quantity a benchmark's extrapolation asks for is the coverage at k fresh samples of its
    own problems, not of new problems drawn from the fitted F: a problem seen solved 37 times in
    100 keeps a p near 0.37, and one with c = 0 out of n is less likely solvable than F's average
    (the posterior predictive of empirical Bayes; Efron 2016,
    "Empirical Bayes deconvolution estimates", Biometrika). Per problem u the posterior of p on
    the grid is masses * Binom(c_u; n_u, p) / its sum; averaged over the problems with the
    replicate's weights ``agg`` (B, U) it is one (B, G) distribution R, and coverage at k is
    1 - sum_g R_g (1 - p_g)^k: two matrix products, whatever the number of problems.
    """
    lik = GridLik.of(pairs).dens  # (U, G), each row scaled by its largest value: it cancels below
    evidence = np.maximum(masses @ lik.T, 1e-300)  # (B, U)
    average = masses * ((agg / evidence) @ lik) / agg.sum(axis=1, keepdims=True)  # (B, G)
    return 1.0 - average @ _fail(ks)

