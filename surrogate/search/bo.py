"""Bayesian optimisation over architectures: a predictor on an encoding plus a BoTorch acquisition,
maximised over a finite candidate set (BANANAS-style)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

from surrogate.encodings import get_encoding
from surrogate.errors import UsageError
from surrogate.models import get_model
from surrogate.models.botorch_adapter import PredictorModel
from surrogate.models.base import model_threads
from surrogate.models import warp
from surrogate.search.base import Strategy
from surrogate.spaces import CellSpace, Space

#: BO's acquisitions by name, and what each serves: one objective, or several (and constraints,
#: `multiobjective.MultiObjectiveBO`).
ACQUISITIONS = {"logei": "one", "ucb": "one", "ts": "one", "ehvi": "several", "nehvi": "several", "parego": "several"}


def bo_encoding(space: Space, problem=None, features: bool = False, model: str = "gp") -> str:
    """BO's default encoding, for every kind of problem in one place (measured: one objective in
    bench/results/predictors_zc.md, out_of_the_box.md and rnn.md, several objectives and constraints
    in bench/results/search_mo.md). One objective: `graf` on cell spaces, with or without feature
    columns (without: ahead of `path` on rnn-shakespeare and nb201-fmnist, within noise on nb201 and
    nb201-digits). On a space of plain choices without feature columns the GP reads the choice
    `index` (and is then the categorical GP, `bo_model`) whatever the problem; other models, and
    feature columns, `onehot` there. Otherwise a constrained single objective: `graf`; several
    objectives: `graf`, or `onehot` beside feature columns (the proxies then carry the structure
    graf summarises)."""
    if not isinstance(space, CellSpace) and model == "gp" and not features:
        return "index"  # plain choices: the categorical GP, for one objective or several
    if problem is None or problem.plain:
        return "graf" if isinstance(space, CellSpace) else "onehot"
    if problem.m == 1 and not problem.measured_constraints:
        return "graf"
    return "onehot" if features else "graf"


def bo_model(model: str, encoding: str) -> str:
    """The predictor behind `model` on `encoding`: a GP on choice indices is the categorical GP
    (`cgp`, an additive overlap kernel; bench/results/out_of_the_box.md), since an RBF kernel on
    indices would read choices as ordered numbers."""
    return "cgp" if model == "gp" and encoding == "index" else model


def check_acquisition(acq: str, serves: str) -> str:
    if ACQUISITIONS.get(acq) != serves:
        known = ", ".join(a for a, s in ACQUISITIONS.items() if s == serves)
        raise UsageError(f"unknown acquisition {acq!r} for {serves} objective{'s' if serves == 'several' else ''} "
                         f"(known: {known})")
    return acq

#: spaces up to this size are scored whole (one representative per isomorphism class).
ENUMERATE_CANDIDATES = 200_000


class BayesianOptimization(Strategy):
    """Fit `model` on `encoding` of the told architectures, score candidates with `acq`, ask the best.

    Candidates are every not-yet-seen isomorphism class when the space has at most
    ENUMERATE_CANDIDATES architectures; otherwise `pool_size` random architectures plus `mutants`
    mutations of each of the `top_k` best so far (BANANAS). The first `init` asks are random.
    `features` adds inputs beside the encoding (a function of architectures, e.g. a table's
    zero-cost proxies by class: `surrogate.features.ClassFeatures`).

    Acquisitions: `logei` (BoTorch LogEI), `ucb` (beta), `ts` (Thompson: one posterior draw per
    candidate, independently: exact joint draws over thousands of candidates would cost a dense
    covariance). Every `ts_every`-th model-based ask is instead a joint Thompson draw over the
    `ts_pool` candidates of highest UCB: EI's greed with TS's escapes from a wrong incumbent region
    (`ts_every=None`: 3 for the categorical GP, where it was measured, else never).

    Batches (`ask_batch(q)`) and asks from several workers are chosen one at a time with the
    pending ones fantasised at the model's mean (kriging believer, see `_fit`): a q-point
    acquisition (qLogEI) over every q-subset of 6,466 candidates took 10 s for q=3 here.
    """

    name = "bo"

    def __init__(self, space: Space | str, seed: int | None = None, model: str = "gp", encoding: str | None = None,
                 acq: str = "logei", init: int = 10, beta: float = 2.0, pool_size: int = 2000, top_k: int = 10,
                 mutants: int = 50, targets: str = "copula", model_params: dict | None = None,
                 features: Callable[[np.ndarray], np.ndarray] | None = None, ts_every: int | None = None,
                 ts_pool: int = 500):
        super().__init__(space, seed)
        self.features = features
        check_acquisition(acq, "one")
        self.encoding = get_encoding(encoding or bo_encoding(self.space, features=features is not None, model=model),
                                     self.space)
        model = bo_model(model, self.encoding.name)
        # bo warps its values itself (`targets`), so its model fits them as they come (targets="raw"),
        # and its GP is the plain fit it has always been (no outlier trimming)
        params = {"seed": seed, "targets": "raw", **({"warm_start": True, "outlier_z": None} if model == "gp" else {}),
                  **({"warm_start": True} if model == "cgp" else {}), **(model_params or {})}
        self.ts_every = (3 if model == "cgp" else 0) if ts_every is None else int(ts_every)
        self.ts_pool = ts_pool
        self.predictor = get_model(model, **params)
        if self.ts_every and not hasattr(self.predictor, "sample_joint"):
            raise UsageError(f"ts_every needs a model that draws jointly (cgp); {model!r} does not")
        probe = self.space.sample(4, np.random.default_rng(0))  # its own generator: the search's draws stay as they were
        self.predictor.check_inputs(self.encoding(probe), f"encoding {self.encoding.name!r}")
        self.acq, self.init, self.beta = acq, init, beta
        self.pool_size, self.top_k, self.mutants = pool_size, top_k, mutants
        self.targets = warp.check_targets(targets)
        self._encoded: np.ndarray | None = None  # inputs of the candidate domain, computed once

    #: multi-fidelity (`search.fidelity`, joint model): each told value's share of a whole training,
    #: read as a last input column (candidates are scored at 1, a whole training); None: not read
    observed_fidelity: np.ndarray | None = None

    def inputs(self, archs: np.ndarray, fidelity: np.ndarray | None = None) -> np.ndarray:
        """What the model reads: the encoding, then the `features` when given (and the fidelity,
        when observations carry one: `fidelity`, else a whole training)."""
        x = self.encoding(archs)
        x = x if self.features is None else np.hstack([x, self.features(archs)])
        if self.observed_fidelity is None:
            return x
        return np.hstack([x, (np.ones(len(x)) if fidelity is None else fidelity)[:, None]])

    # --- candidates -----------------------------------------------------------------------------
    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(archs, encodings) of new candidates: every unseen class, or a BANANAS pool."""
        if (self._domain is not None and not self._domain_is_space) or self.space.size <= ENUMERATE_CANDIDATES:
            open_ = self.unseen_mask()
            if self._encoded is None or len(self._encoded) != len(self._domain):
                self._encoded = self.inputs(self._domain)
            return self._domain[open_], self._encoded[open_]
        pool = [self.space.sample(self.pool_size, self.rng)]
        values = np.array(self.values)
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf))[: self.top_k]
        for i in order:
            parents = np.repeat(self.archs[i][None], self.mutants, axis=0)
            pool.append(self.space.mutate(parents, self.rng))
            pool.append(self.space.mutate(pool[-1], self.rng))  # two-step mutants too
        pool = np.concatenate(pool)
        pool = pool[self.is_new(pool)]
        _, first = np.unique(self.space.canonical_ids(pool), return_index=True)
        pool = pool[np.sort(first)]
        if len(pool) == 0:
            pool = self.random_unseen(1)
        return pool, self.inputs(pool)

    # --- the model ------------------------------------------------------------------------------
    def _fit(self) -> bool:
        """Fit the predictor on the told values (`targets`-transformed) and, when asks are pending, on
        those too with the model's own mean as their value (kriging believer): what a worker is
        still training pulls the acquisition away from itself without being counted as a result."""
        values = np.array(self.values, dtype=np.float64)
        ok = np.isfinite(values)
        if ok.sum() < max(self.init, 2) or np.ptp(values[ok]) == 0:
            return False
        y = warp.targets(values[ok], self.targets)
        x = self.inputs(np.stack(self.archs)[ok], None if self.observed_fidelity is None else self.observed_fidelity[ok])
        self.predictor.fit(x, y)
        self.best_value_ = float(y.max())
        if self._pending:
            pending = self.inputs(self.pending)
            lies, _ = self.predictor.predict(pending)
            self.predictor.fit(np.vstack([x, pending]), np.concatenate([y, lies]))
        return True

    def _thompson_turn(self) -> bool:
        return bool(self.ts_every) and (self.n_observed - self.init) % self.ts_every == self.ts_every - 1

    def _scores(self, x: np.ndarray) -> np.ndarray:
        if self._thompson_turn():
            mean, std = self.predictor.predict(x)
            top = np.argsort(-(mean + np.sqrt(self.beta) * std), kind="stable")[: self.ts_pool]
            out = np.full(len(x), -np.inf)
            out[top] = self.predictor.sample_joint(x[top], self.rng)
            return out
        if self.acq == "ts":
            mean, std = self.predictor.predict(x)
            return mean + std * self.rng.standard_normal(len(mean))
        model = PredictorModel(self.predictor)
        acq = (LogExpectedImprovement(model, best_f=self.best_value_) if self.acq == "logei"
               else UpperConfidenceBound(model, beta=self.beta))
        xt = torch.as_tensor(x, dtype=torch.float64).unsqueeze(1)
        with torch.no_grad(), model_threads(self.n_observed):
            return torch.cat([acq(chunk) for chunk in xt.split(4096)]).numpy()

    def propose(self) -> np.ndarray:
        if self.n_observed < self.init or not self._fit():
            return self.random_unseen(1)[0]
        archs, x = self.candidates()
        scores = self._scores(x)
        best = np.flatnonzero(scores == scores.max())
        return archs[best[self.rng.integers(len(best))]]
