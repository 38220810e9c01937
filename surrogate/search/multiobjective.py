"""Multi-objective and constrained search: ask/tell strategies told an outcome *vector* per
architecture (several objectives, and the columns constraints read).

The `Problem` (`surrogate.search.problem`) names the objectives, the constraints and which columns
are known exactly from the architecture (params, FLOPs): those need no model, and a constraint on
one filters the candidates before anything is asked. A measured column (accuracy, latency) is
modelled by BO, and a constraint on one enters its acquisition as a probability of feasibility.

The `general` members of the strategy families (`surrogate.search.STRATEGIES`): `bo` (BoTorch's
EHVI, qLogNEHVI or qLogNParEGO over every unseen class; constrained LogEI for one objective),
`nsga2` (Optuna's NSGAIISampler), `re` (regularized evolution selecting by non-dominated rank and
crowding distance, as Syne Tune's MO-RE) and `rs`.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import optuna
import torch
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.acquisition.multi_objective.analytic import ExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.logei import (qLogExpectedHypervolumeImprovement,
                                                       qLogNoisyExpectedHypervolumeImprovement)
from botorch.acquisition.multi_objective.objective import WeightedMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.objective import LinearMCObjective
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import Model, ModelList
from botorch.posteriors.torch import TorchPosterior
from botorch.sampling.get_sampler import get_sampler
from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
from botorch.utils.sampling import sample_simplex
from linear_operator.utils.warnings import NumericalWarning
from optuna.trial import TrialState
from torch.distributions import Normal

from surrogate._io import quiet_optuna
from surrogate.encodings import get_encoding
from surrogate.errors import UsageError
from surrogate.models import get_model
from surrogate.models.base import model_threads
from surrogate.models.botorch_adapter import PredictorModel
from surrogate.models.warp import Warp, check_targets
from surrogate.search import pareto
from surrogate.search.base import RandomSearch, Strategy
from surrogate.search.bo import ACQUISITIONS, BayesianOptimization, bo_encoding, bo_model, check_acquisition
from surrogate.search.evolution import RegularizedEvolution
from surrogate.search.problem import Constraint, Problem
from surrogate.search.tpe import OptunaStrategy
from surrogate.spaces import ENUMERATE_LIMIT, Space, get_space


# --- vector tells on top of the single-objective protocol -----------------------------------------
class MultiObjectiveStrategy(Strategy):
    """Mixin over `Strategy`: `tell(arch, outcomes)` takes a vector over `problem.columns`.

    The base bookkeeping (seen and pending classes, `archs`, `values`) is kept; `values` holds the
    scalar view single-objective code reads: the first objective in maximisation form, NaN where
    the outcome violates a constraint. The vectors are in `outcomes`. Exact constraints narrow the
    domain (`restrict` filters what it is given; without it the first ask filters the enumerated
    space), so nothing infeasible by construction is ever asked.
    """

    vector_outcomes = True

    def __init__(self, space: Space | str, seed: int | None = None, problem: Problem | None = None, **params):
        if problem is None:
            raise UsageError(f"{type(self).__name__} needs a Problem (objectives and constraints)")
        super().__init__(space, seed, **params)
        self.problem = problem
        self.outcomes: list[np.ndarray] = []
        self._filtered = False  # has a domain been narrowed to the exactly feasible classes?

    def restrict(self, archs: np.ndarray) -> "MultiObjectiveStrategy":
        archs = self.space.check(archs)
        archs = archs[self.problem.exactly_feasible(archs)]
        if len(archs) == 0:
            raise UsageError(f"no architecture satisfies {', '.join(map(str, self.problem.exact_constraints))}")
        self._filtered = True
        return super().restrict(archs)

    def ask(self) -> np.ndarray:
        if self.problem.exact_constraints and not self._filtered:  # no domain given: filter the whole space
            self.restrict(self.space.enumerate())
        return super().ask()

    def tell(self, arch: np.ndarray, outcomes: Sequence[float]) -> None:
        arch = self.space.check(arch)
        y = np.asarray(outcomes, dtype=np.float64).reshape(-1)
        columns = self.problem.columns
        if len(y) != len(columns):
            raise UsageError(f"tell needs {len(columns)} values ({', '.join(columns)}), got {len(y)}")
        if self._key(arch) not in self._seen:
            self.outcomes.append(y)  # before the base's tell, so `observe` sees it as outcomes[-1]
        super().tell(arch, float(self.problem.scalar(y)[0]))

    def outcome_matrix(self) -> np.ndarray:
        return np.stack(self.outcomes) if self.outcomes else np.zeros((0, len(self.problem.columns)))


class MORandomSearch(MultiObjectiveStrategy, RandomSearch):
    """Uniform sampling of new (exactly feasible) classes."""

    name = "rs"


class MORegularizedEvolution(MultiObjectiveStrategy, RegularizedEvolution):
    """Regularized evolution whose tournament ranks by constrained non-dominated sorting, then by
    crowding distance (NSGA-II's crowded comparison; Syne Tune's MO-RE). Ranks and distances are
    those of the whole current population, so a tournament winner is good relative to the front
    the population holds, not only to its few rivals. With one objective this is RE with Deb's
    feasibility rule. Hyperparameters are RE's."""

    name = "re"

    def observe(self, arch: np.ndarray, value: float) -> None:
        y = self.outcomes[-1]
        if np.isfinite(self.problem.objective_matrix(y)).all():  # failed evaluations never join
            self.members.append((arch, y))

    def tournament(self) -> np.ndarray:
        outcomes = np.stack([y for _, y in self.members])
        ranks = pareto.pareto_ranks(self.problem.objective_matrix(outcomes), self.problem.violation(outcomes))
        crowding = np.zeros(len(ranks))
        for r in np.unique(ranks):
            crowding[ranks == r] = pareto.crowding_distance(self.problem.objective_matrix(outcomes[ranks == r]))
        size = min(self.sample_size, len(self.members))
        picked = self.rng.choice(len(self.members), size=size, replace=False)
        best = picked[np.lexsort((-crowding[picked], ranks[picked]))[0]]
        return self.members[best][0]


class ConstrainedBO(MultiObjectiveStrategy, BayesianOptimization):
    """One objective, exact constraints only: the single-objective BO (GP, copula targets, LogEI)
    on the feasible classes, which is all a known cost changes."""

    name = "bo"


# --- multi-objective BO ---------------------------------------------------------------------------
class _Leading(Model):
    """Reads only the first `d` input columns: the others carry the exact columns as outcomes."""

    def __init__(self, model: Model, d: int):
        super().__init__()
        self.model, self.d = model, d

    @property
    def num_outputs(self) -> int:
        return self.model.num_outputs

    @property
    def batch_shape(self) -> torch.Size:
        return self.model.batch_shape

    def posterior(self, X: torch.Tensor, *args, **kwargs):
        return self.model.posterior(X[..., :self.d], *args, **kwargs)


class _Objectives(Model):
    """The objectives alone, in maximisation form, as independent normals (q = 1): what BoTorch's
    analytic EHVI reads (`mean`, `variance`). An exact column is a point mass (variance 0)."""

    def __init__(self, model: ModelList, index: list[int], signs: torch.Tensor):
        super().__init__()
        self.model, self.index, self.signs = model, index, signs

    @property
    def num_outputs(self) -> int:
        return len(self.index)

    def posterior(self, X: torch.Tensor, *args, **kwargs) -> TorchPosterior:
        posterior = self.model.posterior(X)
        mean = posterior.mean[..., self.index] * self.signs
        std = posterior.variance[..., self.index].clamp_min(0).sqrt()
        return TorchPosterior(Normal(mean, std, validate_args=False))


class MultiObjectiveBO(MultiObjectiveStrategy):
    """BO with one GP per measured column and the exact columns as a deterministic model, the
    acquisition maximised over every unseen (exactly feasible) class.

    Inputs to BoTorch are `[encoding | exact columns]`: each GP reads the encoding, a
    `GenericDeterministicModel` returns the exact columns, and a `ModelList` joins them, so every
    BoTorch acquisition sees params or FLOPs as outcomes without variance. Acquisitions
    (`acq`): `ehvi` — expected hypervolume improvement over the observed front (table values are
    noise-free, where it is qLogNEHVI's special case at a fraction of its cost): BoTorch's exact,
    analytic EHVI for one ask with no measured constraint (the GPs' marginals are independent
    normals and exact columns point masses, so nothing needs sampling), else its Monte-Carlo
    qLogEHVI (pending asks, probabilities of feasibility); `nehvi` — qLogNEHVI over the observed
    points, `parego` — qLogNParEGO (one random Chebyshev scalarisation per ask). One objective:
    qLogEI. Measured constraints enter as BoTorch constraints (a probability of feasibility).
    The reference point is the problem's, else inferred (`reference`). Pending asks are BoTorch's
    `X_pending`. The GPs read `encoding` (default: `bo.bo_encoding`), then `features` when given (a
    function of architectures: a table's zero-cost proxies by class, `features.ClassFeatures`), then the
    log exact columns when `cost_features` (not the categorical GP, which the `index` encoding
    selects on plain choices: `bo.bo_model`). The first `init` asks are random. Every `ts_every`-th
    model-based ask (None: 3 with the categorical GP, as with one objective, else never) is a
    Thompson turn (`thompson_scores`) when nothing is pending and no constraint is measured. Each GP is fitted on
    `targets` (`Warp`); the acquisition then works in the GPs' units, exact columns in their own.
    """

    name = "bo"

    def __init__(self, space: Space | str, seed: int | None = None, problem: Problem | None = None,
                 encoding: str | None = None, acq: str = "ehvi", init: int = 10, mc_samples: int = 32,
                 targets: str = "copula", cost_features: bool = True, pool_size: int = 2000,
                 model_params: dict | None = None, features: Callable[[np.ndarray], np.ndarray] | None = None,
                 ts_every: int | None = None, ts_pool: int = 500):
        super().__init__(space, seed, problem)
        self.features = features
        check_acquisition(acq, "several")
        self.targets = check_targets(targets)
        self.warps: dict[str, Warp] = {}
        if init < 1 or mc_samples < 1:
            raise UsageError("init and mc_samples must be >= 1")
        self.encoding = get_encoding(encoding or bo_encoding(self.space, problem, features is not None), self.space)
        model = bo_model("gp", self.encoding.name)
        if model == "cgp" and features is not None:
            raise UsageError("the categorical GP (encoding index) reads choice indices only, not feature columns")
        self.cost_features = cost_features and model == "gp"  # the categorical GP reads choice indices only
        self.acq, self.init, self.mc_samples, self.pool_size = acq, init, mc_samples, pool_size
        p = self.problem
        self.modelled = [c for c in p.columns if c not in p.exact_columns]
        self.outputs = self.modelled + list(p.exact_columns)  # the ModelList's output order
        self.width = self.encoding.dim + (len(p.exact_columns) if self.cost_features else 0)  # + features
        # warped here (Warp), and the plain GP fit (no outlier trimming), as before
        params = {"seed": seed, "warm_start": True, "targets": "raw", **({"outlier_z": None} if model == "gp" else {}),
                  **(model_params or {})}
        self.predictors = {c: get_model(model, **params) for c in self.modelled}
        # the categorical GP's rule with one objective (`bo.BayesianOptimization`): every third model-based ask a draw
        self.ts_every, self.ts_pool = (3 if model == "cgp" else 0) if ts_every is None else int(ts_every), ts_pool
        self._inputs: np.ndarray | None = None  # [encoding | exact] of the domain, computed once

    # --- inputs ---------------------------------------------------------------------------------
    def inputs(self, archs: np.ndarray) -> np.ndarray:
        """`[encoding | features | cost features | exact columns]`: the GPs read the first `width`
        columns (the cost features are the exact columns again, in logs when positive: a free, exact
        input, as `--features params` is to the predictor benchmark), the deterministic model the rest."""
        x = self.encoding(archs).astype(np.float64)
        if self.features is not None:
            x = np.hstack([x, self.features(archs)])
            self.width = x.shape[1] + (len(self.problem.exact_columns) if self.cost_features else 0)  # known now
        if not self.problem.exact_columns:
            return x
        exact = self.problem.exact(archs)
        features = [np.log(c) if (c > 0).all() else c for c in exact.T] if self.cost_features else []
        return np.column_stack([x, *features, exact])

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(archs, inputs): every open class of an enumerable domain, else a random pool plus
        one-decision mutants of the observed front."""
        if self._domain is not None or self.space.size <= ENUMERATE_LIMIT:
            open_ = self.unseen_mask()
            if self._inputs is None or len(self._inputs) != len(self._domain):
                self._inputs = self.inputs(self._domain)
            return self._domain[open_], self._inputs[open_]
        Y = self.problem.objective_matrix(self.outcome_matrix())
        front = np.stack(self.archs)[pareto.non_dominated(np.nan_to_num(Y, nan=-np.inf))]
        mutants = self.space.mutate(np.repeat(front, 20, axis=0), self.rng)
        pool = np.concatenate([self.random_unseen(self.pool_size), mutants])
        pool = pool[self.is_new(pool) & self.problem.exactly_feasible(pool)]
        _, first = np.unique(self.space.canonical_ids(pool), return_index=True)
        pool = pool[np.sort(first)]
        return pool, self.inputs(pool)

    # --- model and acquisition ------------------------------------------------------------------
    def _fit(self) -> bool:
        outcomes = self.outcome_matrix()
        columns = list(self.problem.columns)
        x = self.inputs(np.stack(self.archs))[:, :self.width]
        for name, predictor in self.predictors.items():
            y = outcomes[:, columns.index(name)]
            ok = np.isfinite(y)
            if ok.sum() < 2 or np.ptp(y[ok]) == 0:
                return False
            self.warps[name] = Warp(y[ok], self.targets)
            predictor.fit(x[ok], self.warps[name](y[ok]))
        return True

    def warped(self, outcomes: np.ndarray) -> np.ndarray:
        """Outcomes in the models' units: modelled columns through their warp, exact ones as they are."""
        outcomes = np.array(outcomes, dtype=np.float64, ndmin=2)
        for name, warp in self.warps.items():
            j = self.problem.columns.index(name)
            outcomes[:, j] = warp(outcomes[:, j])
        return outcomes

    def model(self) -> ModelList:
        width, k = self.width, len(self.problem.exact_columns)
        models: list[Model] = [_Leading(PredictorModel(self.predictors[c]), width) for c in self.modelled]
        if k:
            models.append(GenericDeterministicModel(lambda X: X[..., width:], num_outputs=k))
        return ModelList(*models)

    def reference(self, Y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The hypervolume reference (maximisation form): the problem's when given; else BoTorch's
        rule (nadir minus a tenth of the range) on the observed front for measured objectives, and
        on everything the domain allows for exact ones. An exact cost's range is known before any
        training; inferring it from the observed front instead would make every cost beyond the
        front's dearest point worthless, and the search never extends the front that way."""
        p = self.problem
        if p.ref_point is not None:
            given = np.zeros(len(p.columns))
            given[:p.m] = p.ref_point
            return p.objective_matrix(self.warped(given))[0]
        ref = pareto.reference_point(Y[pareto.non_dominated(Y)])
        for j, o in enumerate(p.objectives):
            if o.name in p.exact_columns:
                values = x[:, self.width + p.exact_columns.index(o.name)] * o.sign
                ref[j] = values.min() - pareto.REF_MARGIN * np.ptp(values)
        return ref

    def front(self, x_candidates: np.ndarray, x_observed: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(the observed feasible points' objectives, the reference point), maximisation form, in the
        models' units: what a hypervolume improvement is measured against."""
        p, outcomes = self.problem, self.outcome_matrix()
        ok = p.feasible(outcomes) & np.isfinite(p.objective_matrix(outcomes)).all(axis=1)
        Y = p.objective_matrix(self.warped(outcomes))
        basis = Y[ok] if ok.any() else Y[np.isfinite(Y).all(axis=1)]  # every finite point while none is feasible
        ref = torch.as_tensor(self.reference(basis, np.vstack([x_candidates, x_observed])))
        return torch.as_tensor(Y[ok]), ref

    def acquisition(self, model: ModelList, x_observed: torch.Tensor, x_pending: torch.Tensor | None,
                    x_candidates: np.ndarray, analytic: bool = True):
        p, outputs = self.problem, self.outputs
        outcomes = self.outcome_matrix()
        ok = p.feasible(outcomes) & np.isfinite(p.objective_matrix(outcomes)).all(axis=1)
        outcomes = self.warped(outcomes)
        bounds = [Constraint(c.name, c.op, float(self.warps[c.name](c.bound))) for c in p.measured_constraints]
        constraints = [lambda Z, c=c, j=outputs.index(c.name): c.slack(Z[..., j]) for c in bounds] or None
        sampler = get_sampler(model.posterior(x_observed[:1]), torch.Size([self.mc_samples]),
                              seed=int(self.rng.integers(2**31)))
        signs = torch.as_tensor(p.signs)
        index = [outputs.index(o.name) for o in p.objectives]
        if p.m == 1:
            weights = torch.zeros(len(outputs), dtype=torch.float64)
            weights[index[0]] = signs[0]
            y = p.objective_matrix(outcomes)[:, 0]
            best = y[ok].max() if ok.any() else np.nanmin(y)
            return qLogExpectedImprovement(model, best_f=float(best), sampler=sampler,
                                           objective=LinearMCObjective(weights), constraints=constraints,
                                           X_pending=x_pending)
        objective = WeightedMCMultiOutputObjective(signs, outcomes=index, num_outcomes=len(outputs))
        Y, ref = self.front(x_candidates, x_observed.numpy())
        if self.acq == "ehvi":
            partitioning = FastNondominatedPartitioning(ref_point=ref, Y=Y)
            if analytic and x_pending is None and constraints is None:
                return ExpectedHypervolumeImprovement(_Objectives(model, index, signs), ref.tolist(), partitioning)
            return qLogExpectedHypervolumeImprovement(model, ref.tolist(), partitioning, sampler=sampler,
                                                      objective=objective, constraints=constraints, X_pending=x_pending)
        if self.acq == "nehvi":
            return qLogNoisyExpectedHypervolumeImprovement(model, ref.tolist(), x_observed, sampler=sampler,
                                                           objective=objective, constraints=constraints,
                                                           X_pending=x_pending, prune_baseline=True, cache_root=False)
        weights = sample_simplex(p.m, dtype=torch.float64, seed=int(self.rng.integers(2**31)))[0]
        return qLogNParEGO(model, x_observed, scalarization_weights=weights, sampler=sampler, objective=objective,
                           constraints=constraints, X_pending=x_pending, prune_baseline=True, cache_root=False)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Acquisition value of each candidate input row (q = 1, pending asks fantasised jointly)."""
        model = self.model()
        observed = torch.as_tensor(self.inputs(np.stack(self.archs)))
        pending = torch.as_tensor(self.inputs(self.pending)) if self._pending else None
        with torch.no_grad(), model_threads(self.n_observed), warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericalWarning)  # jitter added to a joint covariance: expected here
            xt = torch.as_tensor(x).unsqueeze(1)
            values = None
            for analytic in (True, False):
                acq = self.acquisition(model, observed, pending, x, analytic)
                values = torch.cat([acq(chunk) for chunk in xt.split(512)]).numpy()  # 512: cache-sized
                if not isinstance(acq, ExpectedHypervolumeImprovement) or (values > 0).any():
                    break  # an exact EHVI of 0 everywhere (underflow far from the front): its log-space MC version ranks
            return values

    def _thompson_turn(self) -> bool:
        return (bool(self.ts_every) and (self.n_observed - self.init) % self.ts_every == self.ts_every - 1
                and not self._pending and not self.problem.measured_constraints)

    def thompson_scores(self, x: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Over the `ts_pool` candidates of highest acquisition, the hypervolume that one joint
        posterior draw of every measured column (exact columns as they are) adds to the observed
        front (TSEMO's rule, Bradford et al. 2018); -inf elsewhere. The acquisition's own scores when
        the draw improves on nothing."""
        p = self.problem
        top = np.argsort(-scores, kind="stable")[: self.ts_pool]
        drawn = np.empty((len(top), len(p.columns)))
        for name, predictor in self.predictors.items():
            drawn[:, p.columns.index(name)] = predictor.sample_joint(x[top, :self.width], self.rng)
        for j, name in enumerate(p.exact_columns):
            drawn[:, p.columns.index(name)] = x[top, self.width + j]
        Y, ref = self.front(x, self.inputs(np.stack(self.archs)))
        lower, upper = FastNondominatedPartitioning(ref_point=ref, Y=Y).get_hypercell_bounds()
        y = torch.as_tensor(p.objective_matrix(drawn)).unsqueeze(-2)  # (pool, 1, m) against (cells, m)
        gain = (torch.minimum(y, upper) - lower).clamp_min(0).prod(-1).sum(-1).numpy()
        if not (gain > 0).any():
            return scores
        out = np.full(len(x), -np.inf)
        out[top] = gain
        return out

    def propose(self) -> np.ndarray:
        y = self.problem.objective_matrix(self.outcome_matrix())
        if self.n_observed < self.init or not np.isfinite(y).all(axis=1).any() or not self._fit():
            return self.random_unseen(1)[0]
        archs, x = self.candidates()
        scores = self.scores(x)
        if self._thompson_turn():
            scores = self.thompson_scores(x, scores)
        best = np.flatnonzero(scores == scores.max())
        return archs[best[self.rng.integers(len(best))]]


# --- NSGA-II through Optuna -----------------------------------------------------------------------
class NSGA2Search(MultiObjectiveStrategy, OptunaStrategy):
    """Optuna's `NSGAIISampler` on a multi-objective study (parameters `x0..x{d-1}`, choices
    0..K_i-1), Optuna's own ask/tell, measured constraints through `Trial.set_constraint`.

    As with `tpe`, Optuna knows nothing of isomorphism or of the exactly feasible domain: a
    proposal whose class was already told gets that outcome again as a completed trial, one that
    is pending or outside the domain fails, and NSGA-II is asked again (up to `retries` times,
    then a random new architecture is enqueued). `population_size` 20 gives 7 generations in a
    150-query budget (Optuna's default 50 gives 3).
    """

    name = "nsga2"

    def __init__(self, space: Space | str, seed: int | None = None, problem: Problem | None = None,
                 population_size: int = 20, retries: int = 20):
        super().__init__(space, seed, problem)
        if population_size < 2 or retries < 0:
            raise UsageError("nsga2 needs population_size >= 2 and retries >= 0")
        self.population_size, self.retries = population_size, retries
        self._start()
        directions = ["maximize" if o.maximize else "minimize" for o in self.problem.objectives]
        with quiet_optuna():
            sampler = optuna.samplers.NSGAIISampler(population_size=population_size, seed=int(self.rng.integers(2**31)))
            self.study = optuna.create_study(directions=directions, sampler=sampler)

    def _result(self, outcomes: np.ndarray | None) -> tuple[list[float] | None, dict[str, float]]:
        """(objective values, or None for a failed trial; constraint slacks, <= 0 where feasible)."""
        if outcomes is None or not np.isfinite(outcomes[:self.problem.m]).all():
            return None, {}
        columns = list(self.problem.columns)
        return outcomes[:self.problem.m].tolist(), {str(c): float(c.slack(outcomes[columns.index(c.name)]))
                                                    for c in self.problem.measured_constraints}

    def _finish(self, trial: optuna.Trial, outcomes: np.ndarray | None) -> None:
        values, constraints = self._result(outcomes)
        for key, slack in constraints.items():
            trial.set_constraint(key, slack)
        self.study.tell(trial, values, state=TrialState.FAIL if values is None else None)

    def _finish_known(self, trial: optuna.Trial, key: int) -> None:
        self._finish(trial, self._known.get(key))  # seen: its outcome again; pending or outside: failed

    def observe(self, arch: np.ndarray, value: float) -> None:
        key = self._key(arch)
        self._known[key] = self.outcomes[-1]
        trial = self._trials.pop(key, None)
        with quiet_optuna():
            if trial is not None:
                self._finish(trial, self.outcomes[-1])
                return
            values, constraints = self._result(self.outcomes[-1])  # told, never asked: a completed trial of its own
            self.study.add_trial(optuna.trial.create_trial(
                params={name: int(a) for name, a in zip(self.distributions, arch)}, distributions=self.distributions,
                values=values, state=TrialState.FAIL if values is None else TrialState.COMPLETE,
                constraints=constraints))


# --- the bo family's general member -------------------------------------------------------------
def make_bo(space: Space | str, seed: int | None = None, problem: Problem | None = None, **params) -> Strategy:
    """`bo` beyond one unconstrained objective: the single-objective BO on the feasible classes when
    there is one objective and every constraint is exact (a single-objective acquisition such as
    `ucb` is its own; the multi-objective ones have nothing to do there); multi-objective /
    constrained BO otherwise."""
    if problem is not None and problem.m == 1 and not problem.measured_constraints:
        params = {k: v for k, v in params.items()
                  if k != "mc_samples" and not (k == "acq" and ACQUISITIONS.get(v) == "several")}
        encoding = bo_encoding(get_space(space), problem, params.get("features") is not None)
        return ConstrainedBO(space, seed, problem, **{"encoding": encoding, **params})
    return MultiObjectiveBO(space, seed, problem, **params)
