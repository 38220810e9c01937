"""A Gaussian process on plain categorical choices: the model of BO on a space that is only choices
(no network, no cell graph, no feature columns), measured in bench/results/out_of_the_box.md and
chosen there over the one-hot RBF GP.

It reads the choice indices themselves (the `index` encoding). Its kernel is additive over
interaction orders (Duvenaud et al. 2011, "Additive Gaussian processes"): with
z_i = exp(-[x_i != x'_i] / l_i) per position,

    k(x, x') = sum_{q in orders} s_q e_q(z_1..z_d) / C(d, q),

e_q the elementary symmetric polynomial of order q: order 1 is an additive model over positions,
order 2 adds every pairwise interaction, order d (written -1) is the overlap (Hamming) kernel of
BoTorch's `CategoricalKernel`, which lets the model keep what main effects and pairs do not explain
near the architectures it has seen. The weights s_q and lengthscales l_i are fitted by marginal
likelihood, so the data choose how much each order counts. Default orders (1, 2, d): chosen over
(1, 2) alone, with and without BO's Thompson turns, on five categorical tables
(bench/results/out_of_the_box.md).
Because z_i takes two values, every power sum is one matrix product of one-hot codes, so the kernel
never builds an (n, n', d) tensor.

With `counts` (the default) the sum has one more term, weighted and fitted like the others: an RBF
kernel on how often each choice index occurs over the positions, n_v(x) = #{i : x_i = v}. Where the
positions share one alphabet (the same operations on every edge of a cell, the same blocks on every
layer), architectures with the same mix of choices tend to behave alike wherever the choices sit, a
similarity no low order of positions expresses; where they do not (a vector of hyperparameters), the
marginal likelihood gives the term little weight. Measured on the same five tables as the orders.

With `ordinal` one more term reads the indices as ordered: an RBF kernel with one lengthscale per
position on the indices themselves. Most tables of hyperparameters or network sizes list a
position's values in order (widths 16 < 32 < 64, learning rates, depths), and neighbouring values
behave alike, which no overlap term can say: to it, index 0 is as far from 1 as from 5. Where the
order means nothing (operations on an edge) the term, always on, still took weight and made search
worse, so `CategoricalGP` keeps it only where the evidence pays for it (`ordinal="auto"`). Measured
in bench/results/out_of_the_box.md.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch
from gpytorch.constraints import GreaterThan, Interval
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.priors import GammaPrior, LogNormalPrior

from surrogate.errors import UsageError
from surrogate.models.base import Predictor, model_threads


#: the ordinal term's shortest lengthscale, in index steps: neighbouring values stay alike (a step
#: keeps e^-1/8 of the term at least), so the term can only say what is smooth along the order. Shorter,
#: it fitted per-position differences the overlap terms already hold and ranked NAS tables worse.
ORDINAL_MIN_STEPS = 2.0


class AdditiveOverlapKernel(Kernel):
    """sum_{q in orders} s_q e_q(z) / C(d, q), z_i = exp(-[x_i != x'_i] / l_i) (module doc), on
    `num_decisions` choice indices (floats holding integers). Weights: Gamma(2, 2) prior (mean 1 on
    standardised targets); lengthscales: LogNormal(0, 1) (one differing position multiplies its
    factor by about e^-1)."""

    has_lengthscale = True

    def __init__(self, num_decisions: int, orders: Sequence[int] = (1, 2, -1), counts: bool = False,
                 ordinal: bool = False, **kwargs):
        d = int(num_decisions)
        prior = LogNormalPrior(loc=0.0, scale=1.0)
        super().__init__(ard_num_dims=d, lengthscale_prior=prior,
                         lengthscale_constraint=GreaterThan(1e-2, initial_value=prior.mode), **kwargs)
        self.d = d
        self.orders = tuple(sorted({d if int(q) == -1 else min(int(q), d) for q in orders}))
        self.counts, self.ordinal = bool(counts), bool(ordinal)
        terms = len(self.orders) + self.counts + self.ordinal
        self.register_parameter("raw_weights", torch.nn.Parameter(torch.zeros(terms)))
        self.register_constraint("raw_weights", Interval(1e-3, 20.0))
        self.register_prior("weights_prior", GammaPrior(2.0, 2.0), lambda m: m.weights,
                            lambda m, v: m._set_weights(v))
        self._set_weights(torch.full((terms,), 1.0 / terms))
        extra = [1] * (self.counts + self.ordinal)
        self.register_buffer("norms", torch.tensor([math.comb(d, q) for q in self.orders] + extra, dtype=torch.float64))
        if self.counts:  # one changed position moves two counts by one: squared distance 2
            count_prior = LogNormalPrior(loc=math.log(2.0), scale=1.0)
            self.register_parameter("raw_count_lengthscale", torch.nn.Parameter(torch.zeros(())))
            self.register_constraint("raw_count_lengthscale", GreaterThan(1e-2, initial_value=count_prior.mode))
            self.register_prior("count_lengthscale_prior", count_prior, lambda m: m.count_lengthscale,
                                lambda m, v: m._set_count_lengthscale(v))
            self._set_count_lengthscale(count_prior.mode)
        if self.ordinal:  # lengthscales grow with sqrt(d), as squared distances grow with d (Hvarfner et al. 2024)
            median = max(1.5 * math.sqrt(d), 1.5 * ORDINAL_MIN_STEPS)  # index steps
            ordinal_prior = LogNormalPrior(loc=math.log(median), scale=1.0)
            self.register_parameter("raw_ordinal_lengthscale", torch.nn.Parameter(torch.zeros(d)))
            self.register_constraint("raw_ordinal_lengthscale", GreaterThan(ORDINAL_MIN_STEPS, initial_value=median))
            self.register_prior("ordinal_lengthscale_prior", ordinal_prior, lambda m: m.ordinal_lengthscale,
                                lambda m, v: m._set_ordinal_lengthscale(v))
            self._set_ordinal_lengthscale(torch.full((d,), median))

    @property
    def ordinal_lengthscale(self) -> torch.Tensor:
        return self.raw_ordinal_lengthscale_constraint.transform(self.raw_ordinal_lengthscale)

    def _set_ordinal_lengthscale(self, value) -> None:
        value = torch.as_tensor(value, dtype=self.raw_ordinal_lengthscale.dtype).expand(self.d)
        self.initialize(raw_ordinal_lengthscale=self.raw_ordinal_lengthscale_constraint.inverse_transform(value))

    @property
    def count_lengthscale(self) -> torch.Tensor:
        return self.raw_count_lengthscale_constraint.transform(self.raw_count_lengthscale)

    def _set_count_lengthscale(self, value) -> None:
        value = torch.as_tensor(value, dtype=self.raw_count_lengthscale.dtype)
        self.initialize(raw_count_lengthscale=self.raw_count_lengthscale_constraint.inverse_transform(value))

    @property
    def weights(self) -> torch.Tensor:
        return self.raw_weights_constraint.transform(self.raw_weights)

    def _set_weights(self, value) -> None:
        value = torch.as_tensor(value).to(self.raw_weights)
        self.initialize(raw_weights=self.raw_weights_constraint.inverse_transform(value))

    def _onehot(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One-hot codes of both inputs, as wide per position as the larger index seen in either (so
        a choice the training set never showed matches only itself), and each column's position."""
        widths = [int(max(x1[..., i].max(), x2[..., i].max())) + 1 for i in range(self.d)]
        code = lambda x: torch.cat([torch.nn.functional.one_hot(x[..., i].long(), k)  # noqa: E731
                                    for i, k in enumerate(widths)], -1).to(x.dtype)
        return code(x1), code(x2), torch.repeat_interleave(torch.arange(self.d), torch.tensor(widths))

    def forward(self, x1, x2, diag: bool = False, last_dim_is_batch: bool = False, **params):
        if diag:  # x == x': every z_i = 1, e_q = C(d, q)
            return self.weights.sum().expand(x1.shape[:-1]).to(x1.dtype)
        inv = 1.0 / self.lengthscale.reshape(-1)
        a, b, position = self._onehot(x1, x2)
        same = lambda w: (a * w[position]) @ b.transpose(-1, -2)  # noqa: E731  sum_i w_i [x_i = x'_i]
        top = max([q for q in self.orders if q != self.d], default=0)
        r = torch.exp(-inv)
        power = [None] + [(r ** k).sum() + same(1.0 - r ** k) for k in range(1, top + 1)]  # p_k = sum_i z_i^k
        e = [None] * (top + 1)
        for q in range(1, top + 1):  # Newton-Girard: e_q from p_1..p_q
            acc = power[q] * (-1) ** (q - 1)
            for k in range(1, q):
                acc = acc + ((-1) ** (k - 1)) * e[q - k] * power[k]
            e[q] = acc / q
        out = 0.0
        for w, q, c in zip(self.weights, self.orders, self.norms):
            term = torch.exp(same(inv) - inv.sum()) if q == self.d else e[q]
            out = out + w * term / c
        if self.counts:
            out = out + self.weights[len(self.orders)] * self._count_term(x1, x2)
        if self.ordinal:
            sq = _squared_distances(x1 / self.ordinal_lengthscale, x2 / self.ordinal_lengthscale)
            out = out + self.weights[-1] * torch.exp(-0.5 * sq)
        return out

    def _count_term(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """RBF on how often each choice index occurs over the positions: what positions sharing one
        alphabet (the same operations on every edge or layer) have in common beyond where they are."""
        width = int(max(x1.max(), x2.max())) + 1
        n1, n2 = (torch.nn.functional.one_hot(x.long(), width).sum(-2).to(x1.dtype) for x in (x1, x2))
        return torch.exp(-_squared_distances(n1, n2) / (2 * self.count_lengthscale ** 2))


class CategoricalGP(Predictor):
    """An exact GP with `AdditiveOverlapKernel` (`orders`, `counts`, `ordinal`) on choice indices (the
    `index` encoding), MAP hyperparameters (marginal likelihood plus the priors) by L-BFGS on a dense Cholesky, a
    constant mean and BoTorch's noise prior; targets standardised. `warm_start` refits from the
    previous hyperparameters with a quarter of the iterations, as `GaussianProcess` does. The std is
    the latent function's; `sample_joint` draws it jointly (Thompson sampling). `ordinal="auto"`
    fits the kernel with and without the ordinal term and keeps the term only when its log marginal
    likelihood gain beats Schwarz's penalty for its d + 1 hyperparameters, (d + 1) / 2 log n
    (`ordinal_` says which): on choices listed in order the gain was 14-69 nats at 50-100 points,
    elsewhere it stayed under the penalty, and the model is then the one without the term, fit for fit
    (bench/results/out_of_the_box.md). With `warm_start` (BO's refits) the question is asked again
    only once the data have grown by a quarter since it was last asked, which spares most second fits."""

    def __init__(self, orders: Sequence[int] = (1, 2, -1), counts: bool = True, ordinal: bool | str = "auto",
                 max_iterations: int = 100, warm_start: bool = False, targets: str = "copula", seed: int | None = None):
        self.orders = orders
        self.counts = counts
        self.ordinal = ordinal
        self.max_iterations = max_iterations
        self.warm_start = warm_start
        self.targets = targets
        self.seed = seed

    def check_inputs(self, X: np.ndarray, source: str = "the inputs") -> None:
        """Choice codes only: non-negative integers (the index, onehot, adjacency or path encoding,
        no feature columns); a float would be truncated into a meaningless category."""
        X = np.asarray(X, dtype=np.float64)
        if not (np.isfinite(X).all() and (X >= 0).all() and (X == np.round(X)).all()):
            raise UsageError(f"model 'cgp' reads choice codes (non-negative integers: the index, onehot, adjacency "
                             f"or path encoding, no feature columns: --features none); {source} holds other values")

    def _fit(self, X: np.ndarray, z: np.ndarray) -> None:
        self.check_inputs(X)
        if self.ordinal not in (True, False, "auto"):
            raise UsageError(f"cgp's ordinal is True, False or 'auto', not {self.ordinal!r}")
        if self.seed is not None:
            torch.manual_seed(self.seed)
        self.center_, self.scale_ = float(z.mean()), float(z.std()) or 1.0
        x = torch.tensor(X, dtype=torch.float64)
        y = torch.tensor((z - self.center_) / self.scale_, dtype=torch.float64)
        variants = (False, True) if self.ordinal == "auto" else (bool(self.ordinal),)
        decided = getattr(self, "decided_at_", None)
        if len(variants) == 2 and self.warm_start and decided is not None and len(y) < 1.25 * decided:
            variants = (self.ordinal_,)  # refitting in a loop: ask again once the data have grown by a quarter
        fits = {o: self._fit_one(x, y, o) for o in variants}
        chosen = variants[0]
        if len(variants) == 2:  # Schwarz's criterion: the ordinal term's d lengthscales and weight must pay
            penalty = (X.shape[1] + 1) / 2 * math.log(len(y))
            chosen, self.decided_at_ = fits[False][-1] - fits[True][-1] > penalty, len(y)
        self.ordinal_ = chosen
        self.kernel_, self.likelihood_, self.mean_, self.cholesky_, self.alpha_, _ = fits[chosen]
        self.x_ = x

    def _fit_one(self, x: torch.Tensor, y: torch.Tensor, ordinal: bool) -> tuple:
        """(kernel, likelihood, mean, Cholesky factor, alpha, negative log marginal likelihood) at the
        MAP hyperparameters, warm-started from this variant's previous fit when `warm_start`."""
        kernel = AdditiveOverlapKernel(x.shape[1], self.orders, self.counts, ordinal).to(torch.float64)
        noise = LogNormalPrior(loc=-4.0, scale=1.0)
        likelihood = GaussianLikelihood(noise_prior=noise, noise_constraint=GreaterThan(1e-4, initial_value=noise.mode))
        likelihood = likelihood.to(torch.float64)
        mean = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        iterations = self.max_iterations
        self.previous_ = getattr(self, "previous_", {})  # variant -> its last fitted modules
        previous = self.previous_.get(ordinal)
        shape = lambda k: (k.d, k.orders, k.counts, k.ordinal)  # noqa: E731
        if self.warm_start and previous is not None and shape(previous[0]) == shape(kernel):
            kernel.load_state_dict(previous[0].state_dict())
            likelihood.load_state_dict(previous[1].state_dict())
            mean.data.copy_(previous[2].data)
            iterations = max(self.max_iterations // 4, 10)
        with model_threads(len(y)):
            _fit_map(kernel, likelihood, mean, x, y, iterations)
        self.previous_[ordinal] = (kernel, likelihood, mean)
        with torch.no_grad():
            K = kernel(x, x).to_dense() + likelihood.noise * torch.eye(len(x), dtype=x.dtype)
            cholesky = _cholesky(K)
            alpha = torch.cholesky_solve((y - mean).unsqueeze(-1), cholesky).squeeze(-1)
            nll = 0.5 * ((y - mean) * alpha).sum() + torch.log(torch.diagonal(cholesky)).sum()
        return kernel, likelihood, mean, cholesky, alpha, float(nll)

    def _latent(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, the solve L^-1 k with the training points) at X, standardised units."""
        x = torch.as_tensor(np.asarray(X, dtype=np.float64))
        ks = self.kernel_(x, self.x_).to_dense()
        return self.mean_ + ks @ self.alpha_, torch.linalg.solve_triangular(self.cholesky_, ks.T, upper=False)

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, stds = [], []
        with torch.no_grad(), model_threads(len(self.x_)):
            for chunk in np.array_split(X, max(1, int(np.ceil(len(X) / 4096)))):
                mean, v = self._latent(chunk)
                prior = self.kernel_.weights.sum()
                means.append(mean.numpy())
                stds.append((prior - (v * v).sum(0)).clamp_min(1e-12).sqrt().numpy())
        return np.concatenate(means) * self.scale_ + self.center_, np.concatenate(stds) * self.scale_

    def sample_joint(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw of the latent function jointly over the rows of X, in y's units."""
        with torch.no_grad(), model_threads(len(self.x_)):
            mean, v = self._latent(X)
            x = torch.as_tensor(np.asarray(X, dtype=np.float64))
            cov = self.kernel_(x, x).to_dense() - v.T @ v
            draw = mean + _cholesky(cov) @ torch.as_tensor(rng.standard_normal(len(X)))
        z = draw.numpy() * self.scale_ + self.center_
        return z if self.warp_ is None else self.warp_.inverse(z)


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2 for every pair of rows, by one matrix product (never an (n, n', d) tensor)."""
    sq = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(-2) - 2 * a @ b.transpose(-1, -2)
    return sq.clamp_min(0)


def _cholesky(K: torch.Tensor) -> torch.Tensor:
    """Cholesky factor of K, with jitter grown until it is positive definite (a covariance that
    stays indefinite at jitter 1, e.g. with NaNs, is an error, not a loop)."""
    eye = torch.eye(len(K), dtype=K.dtype)
    jitter = 1e-8
    while jitter <= 1.0:
        L, info = torch.linalg.cholesky_ex(K + jitter * eye)
        if info.item() == 0:
            return L
        jitter *= 10
    raise torch.linalg.LinAlgError("covariance not positive definite even with jitter 1")


def _fit_map(kernel: Kernel, likelihood: GaussianLikelihood, mean: torch.nn.Parameter, x: torch.Tensor,
             y: torch.Tensor, iterations: int) -> None:
    """MAP hyperparameters: the exact marginal likelihood plus the modules' priors, by torch's
    L-BFGS (strong-Wolfe line search) on a dense Cholesky. A step that fails (a covariance that is
    not positive definite) keeps the last good state."""
    eye = torch.eye(len(y), dtype=x.dtype)
    priors = [*kernel.named_priors(), *likelihood.named_priors()]
    params = [p for p in [*kernel.parameters(), *likelihood.parameters(), mean] if p.requires_grad]

    def loss() -> torch.Tensor:
        L = torch.linalg.cholesky(kernel.forward(x, x) + (likelihood.noise + 1e-8) * eye)
        r = (y - mean).unsqueeze(-1)
        nll = 0.5 * (r * torch.cholesky_solve(r, L)).sum() + torch.log(torch.diagonal(L)).sum()
        for _, module, prior, closure, _ in priors:
            nll = nll - prior.log_prob(closure(module)).sum()
        return nll / len(y)

    optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = loss()
        value.backward()
        return value

    saved = [p.detach().clone() for p in params]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer.step(closure)
        if not all(torch.isfinite(p).all() for p in params):
            raise RuntimeError("non-finite hyperparameters")
    except (RuntimeError, ValueError, torch.linalg.LinAlgError):
        with torch.no_grad():
            for p, v in zip(params, saved):
                p.copy_(v)
