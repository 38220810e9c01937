"""Our search strategies behind Optuna's sampler interface, so users keep Optuna's study, storage,
dashboard and CLI while `bo`, `re`, ... choose the architectures.

Two ways to describe the space:

* **With a space** (`SurrogateSampler("bo", space="nb201")`): the objective calls
  `suggest_arch(trial, space)`, which suggests one categorical parameter per decision of the space
  and returns the architecture. Parameter names (`param_names`): `edge_<to>_<from>` for cell spaces
  with `edges` (NB201: `edge_1_0`, `edge_2_0`, `edge_2_1`, `edge_3_0`, `edge_3_1`, `edge_3_2`),
  otherwise `d0`, `d1`, ... zero-padded to one width; both sort in decision order. Choices are the
  space's choice names (NB201 op names; `"0"`, `"1"`, ... for `categorical:` spaces).
* **Without a space**: the study's categorical parameters (intersection over completed trials)
  form a `CategoricalSpace`, one decision per parameter sorted by name, choices in the
  distribution's order. Until a trial has completed the space is unknown, so first trials are random.

Parameters outside that space (floats, ints, ...) come from an independent `RandomSampler`.

A multi-objective study (`optuna.create_study(directions=[...])`), or one whose trials set
constraints (`trial.set_constraint(key, value)`, feasible where <= 0), is served by the strategy's
general member of its family (`surrogate.search.STRATEGIES`: `bo`, `nsga2`, `re`, `rs`), told each
completed trial's values (objectives named by the study's `metric_names`, else `objective_<i>`) and
its constraints as measured columns (a trial lacking one counts as infeasible). A constraint key
first seen rebuilds the strategy, which is then told the study again, as a new search space does.
A plain single-objective study keeps the single-objective strategy.

Parallel workers (threads, processes, machines sharing an RDB storage) each have their own sampler.
Before every ask the sampler syncs with the study: COMPLETE trials not yet told are told (sign
flipped for minimisation; our strategies maximise); RUNNING, WAITING, FAIL and PRUNED trials' archs
are marked pending (constant liar without a value: the strategy never proposes those classes, and
failed ones are left to Optuna's retry callback, whose WAITING retries carry fixed params and skip
the sampler). To close the race between two workers asking at once, the chosen arch is written to
the trial as system attr `surrogate:arch` before use; then the study is re-read and if another
trial claims the same isomorphism class, this worker yields and asks again. (Each worker writes
before it reads, so of two colliding workers at least one sees the other.)
"""

from __future__ import annotations

import threading
import zlib
from typing import Any, Iterator, Sequence

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from surrogate.errors import UsageError
from surrogate.search import STRATEGIES, Strategy, family, get_strategy
from surrogate.search.problem import Constraint, Problem, parse_objectives
from surrogate.spaces import CategoricalSpace, Space, get_space

#: system attr holding the arch (choice indices) a trial was given, written before it is used.
CLAIM_ATTR = "surrogate:arch"
#: how often a worker re-asks after losing a race for an arch.
_MAX_CLAIMS = 20
#: a trial's constraint `key` is the problem's column `constraint:<key>` (apart from the objectives').
_CONSTRAINT = "constraint:"


# --- the user side ------------------------------------------------------------------------------
def param_names(space: Space | str) -> list[str]:
    """Optuna parameter name of each decision of `space` (they sort in decision order)."""
    return get_space(space).decision_names


def distributions(space: Space | str) -> dict[str, CategoricalDistribution]:
    """The space as Optuna distributions: one categorical per decision, choices = choice names."""
    space = get_space(space)
    return {name: CategoricalDistribution(list(choices)) for name, choices in zip(param_names(space), space.choices)}


def suggest_arch(trial: optuna.Trial, space: Space | str) -> np.ndarray:
    """Suggest every decision of `space` on `trial` and return the architecture (a (d,) int64 vector)."""
    space = get_space(space)
    return np.array([choices.index(trial.suggest_categorical(name, list(choices)))
                     for name, choices in zip(param_names(space), space.choices)], dtype=np.int64)


def arch_params(arch: np.ndarray, space: Space | str) -> dict[str, str]:
    """The parameters `suggest_arch` would return for `arch` (e.g. for `study.enqueue_trial`)."""
    space = get_space(space)
    return {name: choices[i] for name, choices, i in zip(param_names(space), space.choices, space.check(arch))}


# --- the sampler --------------------------------------------------------------------------------
class SurrogateSampler(optuna.samplers.BaseSampler):
    """Optuna sampler driven by one of our strategies (`bo`, `re`, `ls`, `rs`, `nsga2`, ...).

    `strategy_params` go to the strategy (e.g. `init=5` for `bo`). Under a `seed` the strategy's
    random stream is reseeded from (seed, trial number) before each ask, so a single worker is
    deterministic and workers sharing one seed still draw differently. Multi-objective and
    constrained studies take the strategy's multi-objective variant (see the module docstring).
    """

    def __init__(self, strategy: str = "bo", space: Space | str | None = None, seed: int | None = None,
                 **strategy_params: Any):
        STRATEGIES[strategy]  # an unknown name fails now, not at the first trial
        if "constraints_func" in strategy_params:
            raise UsageError("SurrogateSampler takes no constraints_func: call trial.set_constraint(key, value) "
                             "in the objective (feasible where value <= 0)")
        self.strategy_name = strategy
        self.strategy_params = strategy_params
        self.space = None if space is None else get_space(space)
        self.seed = seed
        self.strategy: Strategy | None = None
        self._problem: Problem | None = None  # what the strategy serves; None: single-objective, unconstrained
        self._dists: dict[str, CategoricalDistribution] = {} if self.space is None else distributions(self.space)
        if self.space is not None:
            self._check_parameters(self.space)
        self._study: str | None = None
        self._told: set[int] = set()
        self._intersection = IntersectionSearchSpace()
        self._lock = threading.Lock()

    # --- Optuna's interface -------------------------------------------------------------------
    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        with self._lock:
            self._switch_study(study)
            self._use_problem(study)  # a study the strategy cannot serve fails at its first trial
            if self.space is not None:
                return dict(self._dists)
            found = self._intersection.calculate(study)
        return {name: d for name, d in found.items() if isinstance(d, CategoricalDistribution) and not d.single()}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        with self._lock:
            self._switch_study(study)
            self._use_problem(study)
            self._use_space(search_space)
            claimed = self._valid(trial.system_attrs.get(CLAIM_ATTR))
            arch = claimed if claimed is not None else self._ask(study, trial)
        return {name: dist.to_external_repr(int(i)) for (name, dist), i in zip(self._dists.items(), arch)}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """Parameters outside the categorical space: uniform, seeded by (seed, trial, name)."""
        seed = None
        if self.seed is not None:
            words = [self.seed, trial.number, zlib.crc32(param_name.encode())]
            seed = int(np.random.SeedSequence(words).generate_state(1)[0])
        return optuna.samplers.RandomSampler(seed).sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        if self.strategy is not None:
            self.strategy.rng = np.random.default_rng()

    # --- state --------------------------------------------------------------------------------
    def _switch_study(self, study: optuna.Study) -> None:
        """A sampler object reused for another study starts over."""
        if self._study != study.study_name:
            self.strategy = None
            self._study, self._told, self._intersection = study.study_name, set(), IntersectionSearchSpace()

    def _use_problem(self, study: optuna.Study) -> None:
        """Rebuild the strategy (told the study again) when what the study asks of it changed."""
        problem = self._problem_of(study)
        if problem != self._problem:
            self._problem, self.strategy = problem, None

    def _problem_of(self, study: optuna.Study) -> Problem | None:
        """None for a single-objective study without constraints that the strategy's plain member
        serves (as ever); else the study's directions and the constraint keys its completed trials
        carry, for the general member."""
        directions = study.directions
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        keys = sorted({key for t in trials for key in t.constraints})
        if len(directions) == 1 and not keys and family(self.strategy_name).plain is not None:
            return None
        if family(self.strategy_name).general is None:
            kind = "multi-objective" if len(directions) > 1 else "constrained"
            general = ", ".join(n for n in STRATEGIES if family(n).general is not None)
            raise UsageError(f"strategy {self.strategy_name!r} is single-objective and cannot serve a {kind} study "
                             f"(multi-objective strategies: {general})")
        names = study.metric_names or [f"objective_{i}" for i in range(len(directions))]
        objectives = parse_objectives([f"{name}:{'max' if d == StudyDirection.MAXIMIZE else 'min'}"
                                       for name, d in zip(names, directions)])
        return Problem(objectives, tuple(Constraint(_CONSTRAINT + key, "<=", 0.0) for key in keys))

    def _use_space(self, search_space: dict[str, BaseDistribution]) -> None:
        """(Re)build the strategy when it is missing or, without a given space, the search space changed."""
        if self.space is None and search_space != self._dists:
            self._dists = {name: search_space[name] for name in sorted(search_space)}  # type: ignore[misc]
            self.strategy = None
        if self.strategy is None:
            space = self.space
            if space is None:
                space = CategoricalSpace([len(d.choices) for d in self._dists.values()],
                                         [[str(c) for c in d.choices] for d in self._dists.values()])
            self._build(space)

    def _build(self, space: Space) -> None:
        self.strategy = self._make(space, self._problem)
        self._told = set()

    def _make(self, space: Space, problem: Problem | None) -> Strategy:
        """The family's plain member (no problem), or its general one for `problem`."""
        try:
            return get_strategy(self.strategy_name, space, seed=self.seed, problem=problem, **self.strategy_params)
        except TypeError as err:  # an unknown keyword
            variant = "" if problem is None else "multi-objective "
            raise UsageError(f"bad parameters for {variant}strategy {self.strategy_name!r}: {err}") from None

    def _check_parameters(self, space: Space) -> None:
        """Bad strategy parameters fail here, not inside the first trial. The study, unknown yet,
        picks the single- or multi-objective variant, so parameters either one takes pass."""
        errors = []
        for problem in self._variants():
            try:
                self._make(space, problem)
                return
            except UsageError as err:
                errors.append(err)
        raise errors[0]

    def _variants(self) -> Iterator[Problem | None]:
        """A problem per member of the strategy's family (None: the plain one), lazily: BoTorch
        loads only when the plain member is missing or rejected."""
        if family(self.strategy_name).plain is not None:
            yield None
        if family(self.strategy_name).general is not None:
            yield Problem.parse(["objective_0:max", "objective_1:max"])

    def _ask(self, study: optuna.Study, trial: FrozenTrial) -> np.ndarray:
        """Sync, ask, claim; ask again while another trial claims the same class."""
        assert self.strategy is not None
        storage = study._storage  # Optuna's own samplers write system attrs the same way
        if self.seed is not None:
            self.strategy.rng = np.random.default_rng([self.seed, trial.number])
        lost: dict[int, np.ndarray] = {}
        for _ in range(_MAX_CLAIMS):
            self._sync(study, trial, lost)
            arch = self.strategy.ask()
            storage.set_trial_system_attr(trial._trial_id, CLAIM_ATTR, [int(i) for i in arch])
            key = self._keys([arch])[0]
            others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
            if key not in self._keys([a for a in map(self._arch_of, others) if a is not None]):
                return arch
            lost[key] = arch
        return arch  # rare: kept losing races; an isomorph may then be evaluated twice

    def _sync(self, study: optuna.Study, trial: FrozenTrial, lost: dict[int, np.ndarray]) -> None:
        """Tell new COMPLETE trials; every other trial with an arch is pending (seen, no value)."""
        assert self.strategy is not None
        sign = -1.0 if study.directions[0] == StudyDirection.MINIMIZE else 1.0
        pending: dict[int, np.ndarray] = dict(lost)
        trials = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        found = [(t, a) for t, a in ((t, self._arch_of(t)) for t in trials) if a is not None]
        keys = self._keys([a for _, a in found])
        for (t, arch), key in zip(found, keys):
            if t.state == TrialState.COMPLETE:
                if t.number not in self._told:
                    self.strategy.tell(arch, self._outcome(t, sign))
                    self._told.add(t.number)
            else:
                pending[key] = arch
        self.strategy.set_pending(np.stack(list(pending.values())) if pending else None)

    def _outcome(self, t: FrozenTrial, sign: float) -> float | np.ndarray:
        """What a completed trial tells the strategy. Single-objective: its value, sign-flipped for
        minimisation (our strategies maximise). Multi-objective: the vector over the problem's
        columns, values as they are (the problem knows the directions), then the constraints."""
        if self._problem is None:
            value = sign * float(t.value)
            return value if np.isfinite(value) else float("nan")
        outcome = np.array([*t.values, *(t.constraints.get(c.name[len(_CONSTRAINT):], np.nan)
                                         for c in self._problem.constraints)], dtype=np.float64)
        return np.where(np.isfinite(outcome), outcome, np.nan)  # NaN: failed (or, a constraint, infeasible)

    # --- archs of trials ----------------------------------------------------------------------
    def _arch_of(self, t: FrozenTrial) -> np.ndarray | None:
        """The arch of a trial: from its params (or enqueued fixed params) when all are there,
        else from its claim, else None (a trial that has not sampled yet)."""
        fixed = t.system_attrs.get("fixed_params", {})
        arch = []
        for name, dist in self._dists.items():
            value = t.params[name] if name in t.params else fixed.get(name, _MISSING)
            try:
                arch.append(int(dist.to_internal_repr(value)))
            except (ValueError, TypeError):
                return self._valid(t.system_attrs.get(CLAIM_ATTR))
        return np.array(arch, dtype=np.int64)

    def _valid(self, claim: Sequence[int] | None) -> np.ndarray | None:
        if claim is None or self.strategy is None:
            return None
        try:
            return self.strategy.space.check(np.asarray(claim, dtype=np.int64))
        except (UsageError, ValueError, TypeError):
            return None

    def _keys(self, archs: list[np.ndarray]) -> list[int]:
        if not archs:
            return []
        assert self.strategy is not None
        return [int(k) for k in self.strategy.space.canonical_ids(np.stack(archs))]


class _Missing:
    """Sentinel for a parameter a trial does not have (never a valid categorical choice)."""


_MISSING = _Missing()

__all__ = ["CLAIM_ATTR", "SurrogateSampler", "arch_params", "distributions", "param_names", "suggest_arch"]
