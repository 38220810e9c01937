"""Optuna's TPE sampler (Bergstra et al. 2011; Watanabe 2023) as an outside peer: one categorical
parameter per decision, an in-memory study, Optuna's own ask/tell."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import Trial, TrialState

from surrogate._io import quiet_optuna
from surrogate.errors import UsageError
from surrogate.search.base import Strategy
from surrogate.spaces import Space


class OptunaStrategy(Strategy):
    """What every strategy driving an Optuna study shares (`tpe`, `nsga2`): one categorical
    parameter per decision (`x0..x{d-1}`, choices 0..K_i-1) and Optuna's ask/tell around our
    novelty rule. A proposal whose class is seen or pending (or outside a restricted domain) is
    finished at once (`_finish_known`) and the sampler asked again, up to `retries` times; then a
    random new architecture is enqueued as the trial. Subclasses create `self.study`."""

    retries: int

    def _start(self) -> None:
        self.distributions = {f"x{i}": CategoricalDistribution(list(range(int(k))))
                              for i, k in enumerate(self.space.num_choices)}
        self._trials: dict[int, Trial] = {}  # canonical id -> the running trial that asked it
        self._known: dict = {}  # canonical id -> what was told

    def _arch(self, trial: Trial) -> np.ndarray:
        return np.array([trial.suggest_categorical(name, dist.choices)
                         for name, dist in self.distributions.items()], dtype=np.int64)

    def _finish_known(self, trial: Trial, key: int) -> None:
        """End a trial that proposed class `key` again (seen: its known result; else failed)."""
        raise NotImplementedError

    def propose(self) -> np.ndarray:
        with quiet_optuna():
            for _ in range(self.retries):
                trial = self.study.ask()
                arch = self._arch(trial)
                key = self._key(arch)
                if self.is_new(arch[None])[0]:
                    self._trials[key] = trial
                    return arch
                self._finish_known(trial, key)
            arch = self.random_unseen(1)[0]
            self.study.enqueue_trial({name: int(a) for name, a in zip(self.distributions, arch)})
            trial = self.study.ask()
            self._trials[self._key(arch)] = trial
            return self._arch(trial)


class TPESearch(OptunaStrategy):
    """Ask Optuna's `TPESampler` (parameters `x0..x{d-1}`, choices 0..K_i-1), maximising.

    `constant_liar=True` makes pending trials count as bad while they run, so several asks before
    the tells spread out. Optuna knows nothing of isomorphism: a proposal whose class is already
    seen is told the value known for that class (or fails, when that value is pending or NaN) and
    TPE is asked again, up to `retries` times; then a random new architecture is enqueued as the
    trial; a proposal outside a restricted domain (`restrict`) fails likewise. Told architectures
    that were never asked (a runner's initial design) are added to the study as completed trials.
    `n_startup_trials` and `n_ei_candidates` are TPE's own.
    """

    name = "tpe"

    def __init__(self, space: Space | str, seed: int | None = None, n_startup_trials: int = 10,
                 n_ei_candidates: int = 24, retries: int = 20):
        super().__init__(space, seed)
        if retries < 0 or n_startup_trials < 0 or n_ei_candidates < 1:
            raise UsageError("need retries >= 0, n_startup_trials >= 0 and n_ei_candidates >= 1")
        self.n_startup_trials, self.n_ei_candidates, self.retries = n_startup_trials, n_ei_candidates, retries
        self._start()
        with quiet_optuna():
            sampler = optuna.samplers.TPESampler(n_startup_trials=n_startup_trials, n_ei_candidates=n_ei_candidates,
                                                 seed=int(self.rng.integers(2**31)), constant_liar=True)
            self.study = optuna.create_study(direction="maximize", sampler=sampler)

    def _finish_known(self, trial: Trial, key: int) -> None:
        value = self._known.get(key, np.nan)  # NaN also outside a restricted domain: a failed trial
        if np.isfinite(value):
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    def observe(self, arch: np.ndarray, value: float) -> None:
        key = self._key(arch)
        self._known[key] = value
        trial = self._trials.pop(key, None)
        finite = bool(np.isfinite(value))
        with quiet_optuna():
            if trial is not None:
                self.study.tell(trial, value if finite else None, state=None if finite else TrialState.FAIL)
                return
            params = {name: int(a) for name, a in zip(self.distributions, arch)}
            self.study.add_trial(optuna.trial.create_trial(
                params=params, distributions=self.distributions,
                value=value if finite else None, state=TrialState.COMPLETE if finite else TrialState.FAIL))
