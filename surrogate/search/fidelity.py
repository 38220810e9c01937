"""Multi-fidelity strategies: architectures asked at a number of epochs and continued later.

A multi-fidelity strategy asks *jobs*, `(architecture, epochs)`, through `ask_job` and is told the
objective at those epochs through `tell_job` (every other strategy asks whole trainings: its jobs
are `(architecture, None)`). A job at more epochs than the architecture already trained continues
that training (a table charges the epochs' seconds it adds; live, the training resumes from its
checkpoint), under the schedule of the full training.

Epochs run on rungs: `min_epochs * eta**k` below `max_epochs`, then `max_epochs` (`Fidelity.rungs`).

* `sh`: synchronous successive halving (Jamieson & Talwalkar 2016): brackets of `eta**K` new
  architectures at the lowest rung, the best `1/eta` of each finished rung promoted;
* `hyperband` (Li et al. 2017): brackets of every starting rung in turn, as in the paper;
* `asha` (Li et al. 2020, Algorithm 2): asynchronous; a free worker promotes an architecture in the
  top `1/eta` of its rung not yet promoted (highest rung first), else starts a new one;
* `median`: the median stopping rule (Golovin et al. 2017) at rungs: a training continues while its
  value is at least the median of every value its rung has seen;
* `bohb` (Falkner et al. 2018): Hyperband whose new architectures are the project's BO proposals,
  fitted on the highest rung that holds `init` results; `asha-bo` the same proposals on ASHA
  (MOBSTER's schedule, Klein et al. 2020, with BOHB's model rather than a joint one);
* `tpe-hb`: Optuna's TPE sampler with its Hyperband pruner (the outside peer).

Synchronous schedules (`sh`, `hyperband`, `bohb`) open their next bracket when every open one waits
for results, so no worker idles (as Syne Tune's synchronous Hyperband). Architectures count once by
isomorphism class, as everywhere (`Strategy`). When every class of a table has been started, the
schedulers still spend the budget: a free worker continues the best result of the highest rung not
trained further (`MultiFidelity.continue_best`); without that a small table would end a run early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from surrogate.errors import UsageError
from surrogate.search import RANK_BY
from surrogate.search.base import Strategy
from surrogate.spaces import Space


@dataclass(frozen=True)
class Fidelity:
    """Trainings of `max_epochs`, asked from `min_epochs` on, `eta` times longer per rung."""

    max_epochs: int
    min_epochs: int = 1
    eta: int = 3

    def __post_init__(self) -> None:
        if self.eta < 2:
            raise UsageError(f"--eta must be at least 2, got {self.eta}")
        if not 1 <= self.min_epochs <= self.max_epochs:
            raise UsageError(f"--min-epochs {self.min_epochs} must be between 1 and the {self.max_epochs} epochs "
                             "of a full training")

    @property
    def rungs(self) -> tuple[int, ...]:
        """Epochs of each rung: min_epochs * eta**k below max_epochs, then max_epochs."""
        rungs, epochs = [], self.min_epochs
        while epochs < self.max_epochs:
            rungs.append(epochs)
            epochs *= self.eta
        return (*rungs, self.max_epochs)


def _ranked(results: dict[int, float]) -> list[int]:
    """Keys by value, best first (NaN last; ties: first told first, as dicts keep order)."""
    keys = list(results)
    values = np.array([results[k] for k in keys], dtype=np.float64)
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    return [keys[i] for i in order]


class MultiFidelity(Strategy):
    """What every scheduler shares: results per rung, and new architectures from a `searcher`
    ("rs": uniform over new classes; "bo": the project's BO with `searcher_params`, fitted on the
    highest rung holding `init` results, as BOHB).

    `rank_by` is the learning-curve rule that ranks partial trainings (promotions, the median rule,
    the searcher's labels on a partial rung): "value", the objective at the rung's epochs; "sotl",
    the training loss of the rung's last epoch, lower better (SoTL-E with E = 1, Ru et al. 2021),
    which early in training can rank the final accuracy better than the accuracy then does; or
    "auto": per rung, whichever of the two ranks this run's results at later rungs better (Kendall
    tau over the architectures trained further, once `AUTO_PAIRS` are), the value until then. A rung
    where some job with a value recorded no training loss (an oracle without the column) is ranked
    by value; the last rung always is. `model_on="all"` labels its searcher with values whatever
    the rule."""

    name = "multi-fidelity"
    RULES = ("value", "sotl", "auto")
    AUTO_PAIRS = 5

    def __init__(self, space: Space | str, seed: int | None = None, fidelity: dict | None = None,
                 searcher: str = "rs", searcher_params: dict | None = None, init: int = 10, model_on: str = "highest",
                 rank_by: str = RANK_BY):
        super().__init__(space, seed)
        if rank_by not in self.RULES:
            raise UsageError(f"unknown rank_by {rank_by!r} ({', '.join(self.RULES)})")
        self.rank_by = rank_by
        self.recorded_columns = ("train_loss",) if rank_by != "value" else ()
        if fidelity is None:
            raise UsageError(f"{self.name} trains architectures partially: give --fidelity epochs")
        self.fidelity = Fidelity(**fidelity)
        self.rungs = self.fidelity.rungs
        self.init = init
        if model_on not in ("highest", "all"):
            raise UsageError(f"unknown model_on {model_on!r} (highest, all)")
        self.model_on = model_on
        self.searcher = None
        if searcher != "rs":
            from surrogate.search import get_strategy

            self.searcher = get_strategy(searcher, self.space, seed=seed, init=init, **(searcher_params or {}))
        self.results: list[dict[int, float]] = [{} for _ in self.rungs]  # rung -> {class key: value}
        self.losses: list[dict[int, float]] = [{} for _ in self.rungs]  # rung -> {class key: training loss}
        self.arch_of: dict[int, np.ndarray] = {}
        self.reached: dict[int, int] = {}  # class key -> the highest rung asked of it (running or told)

    def restrict(self, archs: np.ndarray) -> "MultiFidelity":
        super().restrict(archs)
        if self.searcher is not None:
            self.searcher.restrict(archs)
        return self

    def propose(self) -> np.ndarray:
        """A new architecture: random, or the searcher's on the highest rung with `init` results."""
        if self.searcher is None:
            return self.random_unseen(1)[0]
        s = self.searcher
        if self.model_on == "all":  # every result, its fidelity an input (MOBSTER, DyHPO)
            told = [(k, v, e / self.rungs[-1]) for e, r in zip(self.rungs, self.results) for k, v in r.items()]
            s.condition([self.arch_of[k] for k, _, _ in told], [v for _, v, _ in told], self)
            s.observed_fidelity = np.array([f for _, _, f in told])
        else:
            rung = next((r for r in reversed(range(len(self.rungs)))
                         if np.isfinite(list(self.results[r].values())).sum() >= self.init), 0)
            scores = self.scores(rung)
            s.condition([self.arch_of[k] for k in scores], list(scores.values()), self)
        return s.propose()

    def scores(self, rung: int) -> dict[int, float]:
        """What ranks rung `rung`'s results, higher better (`rank_by`): NaN ranks last."""
        losses, results = self.losses[rung], self.results[rung]
        if self.rank_by == "value" or rung == len(self.rungs) - 1 or \
                any(np.isfinite(v) and not np.isfinite(losses.get(k, np.nan)) for k, v in results.items()):
            return results  # a finite value without a loss: the rung's jobs do not all record one
        by_loss = {k: -losses[k] if np.isfinite(v) else np.nan for k, v in results.items()}
        return results if self.rank_by == "auto" and not self._ranks_better(by_loss, rung) else by_loss

    def _ranks_better(self, by_loss: dict[int, float], rung: int) -> bool:
        """Whether `by_loss` ranks rung `rung`'s architectures closer than their values do to how the
        furthest rung holding `AUTO_PAIRS` of them ranks them."""
        from scipy.stats import kendalltau

        for later in reversed(self.results[rung + 1:]):
            keys = [k for k, v in later.items() if np.isfinite(v) and np.isfinite(by_loss.get(k, np.nan))]
            if len(keys) >= self.AUTO_PAIRS:
                target = [later[k] for k in keys]
                tau_loss = kendalltau([by_loss[k] for k in keys], target).statistic
                tau_value = kendalltau([self.results[rung][k] for k in keys], target).statistic
                return bool(np.nan_to_num(tau_loss, nan=-1) > np.nan_to_num(tau_value, nan=-1))
        return False

    def rung_of(self, epochs: int | None) -> int:
        return len(self.rungs) - 1 if epochs is None else self.rungs.index(int(epochs))

    # --- jobs ----------------------------------------------------------------------------------------
    def ask_job(self) -> tuple[np.ndarray, int] | None:
        """The scheduler's next job, or once every class is started and it has none, `continue_best`'s."""
        job = self.next_job()
        return job if job is not None or not self.exhausted() else self.continue_best()

    def next_job(self) -> tuple[np.ndarray, int] | None:
        """The scheduler's rule (default: a new architecture); None: nothing to start now."""
        return self.new_job()

    def new_job(self, rung: int = 0) -> tuple[np.ndarray, int] | None:
        """A new architecture at `rung`; None once every class has been asked."""
        if self.exhausted():
            return None
        arch = self.ask()
        key = self._key(arch)
        self.arch_of[key] = arch
        return self.job(key, rung)

    def job(self, key: int, rung: int) -> tuple[np.ndarray, int]:
        """Class `key` trained to `rung`, noted as the furthest it has been asked."""
        self._reach(key, rung)
        return self.arch_of[key], self.rungs[rung]

    def _reach(self, key: int, rung: int) -> None:
        self.reached[key] = max(rung, self.reached.get(key, rung))

    def planned(self) -> set[int]:
        """Classes the scheduler itself will continue (not for `continue_best` to take)."""
        return set()

    def continue_best(self) -> tuple[np.ndarray, int] | None:
        """The best result of the highest rung below the last that is neither trained further nor
        planned, one rung on; None when there is none (every result whole, or in training)."""
        return self.promotion(share=1, planned=self.planned())

    def promotion(self, share: int, planned: set[int] = frozenset()) -> tuple[np.ndarray, int] | None:
        """The best finite result among the top 1/`share` of the highest rung below the last holding
        one not trained further (nor `planned`), one rung on (ASHA's rule with `share` = eta)."""
        for k in reversed(range(len(self.rungs) - 1)):
            scores = self.scores(k)
            for key in _ranked(scores)[: len(scores) // share]:
                if np.isfinite(scores[key]) and self.reached[key] == k and key not in planned:
                    return self.job(key, k + 1)
        return None

    def tell_job(self, arch: np.ndarray, epochs: int | None, value: float, recorded: dict | None = None) -> None:
        key, rung = self._key(arch), self.rung_of(epochs)
        self.arch_of.setdefault(key, self.space.check(arch))
        self._reach(key, rung)
        self.results[rung][key] = float(value)
        if recorded and "train_loss" in recorded:
            self.losses[rung][key] = float(recorded["train_loss"])
        if key in self._pending or key not in self._seen:
            self.tell(arch, value)  # seen from its first result on: never asked new again
        self.told(key, rung, float(value))

    def told(self, key: int, rung: int, value: float) -> None:
        """Hook after a result at `rung`."""


class ASHA(MultiFidelity):
    """Asynchronous successive halving (module doc)."""

    name = "asha"

    def next_job(self) -> tuple[np.ndarray, int] | None:
        job = self.promotion(share=self.fidelity.eta)
        return job if job is not None else self.new_job()


class MedianStopping(MultiFidelity):
    """The median rule at rungs (module doc): continuations first, then new architectures."""

    name = "median"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queue: list[tuple[int, int]] = []

    def next_job(self) -> tuple[np.ndarray, int] | None:
        if self.queue:
            return self.job(*self.queue.pop(0))
        return self.new_job()

    def planned(self) -> set[int]:
        return {key for key, _ in self.queue}

    def told(self, key: int, rung: int, value: float) -> None:
        scores = self.scores(rung)
        if rung + 1 < len(self.rungs) and np.isfinite(scores[key]) and scores[key] >= np.nanmedian(list(scores.values())):
            self.queue.append((key, rung + 1))


class _Bracket:
    """One successive-halving bracket: `sizes[i]` architectures at rung `start + i`."""

    def __init__(self, start: int, sizes: list[int]):
        self.start, self.sizes = start, sizes
        self.level = 0  # index into sizes of the rung being run
        self.todo: list[int] | None = None  # keys promoted to this level, not yet started (None: new ones)
        self.started = 0
        self.members: list[int] = []

    def done(self) -> bool:
        return self.level >= len(self.sizes)


class Hyperband(MultiFidelity):
    """Synchronous Hyperband (module doc); `brackets="sh"` runs successive halving only."""

    name = "hyperband"

    def __init__(self, *args, brackets: str = "hyperband", **kwargs):
        super().__init__(*args, **kwargs)
        if brackets not in ("hyperband", "sh"):
            raise UsageError(f"unknown brackets {brackets!r} (hyperband, sh)")
        K, eta = len(self.rungs) - 1, self.fidelity.eta
        starts = [K] if brackets == "sh" else list(range(K, -1, -1))  # s: how many halvings
        def first(s: int) -> int:  # architectures a bracket with s halvings starts with (Li et al. 2017, Alg. 1)
            return math.ceil((K + 1) / (s + 1) * eta**s) if brackets == "hyperband" else eta**s

        # (first rung, architectures per rung) of each bracket in turn
        self.cycle = [(K - s, [max(1, first(s) // eta**i) for i in range(s + 1)]) for s in starts]
        self.opened = 0
        self.open: list[_Bracket] = []

    def next_job(self) -> tuple[np.ndarray, int] | None:
        for bracket in self.open:
            job = self._next(bracket)
            if job is not None:
                return job
        start, sizes = self.cycle[self.opened % len(self.cycle)]
        self.opened += 1
        self.open.append(_Bracket(start, list(sizes)))  # its own copy: a rung may shrink (NaN results)
        return self._next(self.open[-1])

    def planned(self) -> set[int]:
        return {k for b in self.open for k in (*b.members, *(b.todo or ()))}

    def _next(self, b: _Bracket) -> tuple[np.ndarray, int] | None:
        if b.done() or b.started >= b.sizes[b.level]:
            return None
        rung = b.start + b.level
        if b.todo is None:
            job = self.new_job(rung)
            if job is None:  # no class left to start: the rung runs with the ones it has
                b.sizes[b.level] = b.started
                self._advance(b)
                return None
            b.members.append(self._key(job[0]))
        else:
            b.members.append(b.todo.pop(0))
            job = self.job(b.members[-1], rung)
        b.started += 1
        return job

    def told(self, key: int, rung: int, value: float) -> None:
        for b in self.open:
            if key in b.members and b.start + b.level == rung:
                self._advance(b)
                break

    def _advance(self, b: _Bracket) -> None:
        """Promote the best `sizes[level + 1]` once every job of the bracket's rung is told (and on, past
        rungs left empty)."""
        while not b.done():
            results = self.scores(b.start + b.level)
            if not (all(k in results for k in b.members) and b.started >= b.sizes[b.level]):
                break
            b.level += 1
            if not b.done():
                ranked = [k for k in _ranked({k: results[k] for k in b.members}) if np.isfinite(results[k])]
                b.todo, b.members, b.started = ranked[: b.sizes[b.level]], [], 0
                b.sizes[b.level] = len(b.todo)
        self.open = [b for b in self.open if not b.done()]


class SuccessiveHalving(Hyperband):
    name = "sh"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, brackets="sh", **kwargs)


def bohb(space, seed=None, **params) -> Hyperband:
    """BOHB: Hyperband with BO proposals (module doc)."""
    strategy = Hyperband(space, seed=seed, searcher="bo", **params)
    strategy.name = "bohb"
    return strategy


def asha_bo(space, seed=None, **params) -> ASHA:
    """ASHA with BO proposals (module doc)."""
    strategy = ASHA(space, seed=seed, searcher="bo", **params)
    strategy.name = "asha-bo"
    return strategy


def _tpe_hyperband():
    """The class of `tpe-hb`, built on first use (Optuna loads with it)."""
    import optuna
    from optuna.trial import TrialState

    from surrogate._io import quiet_optuna
    from surrogate.search.tpe import TPESearch

    class TPEHyperband(TPESearch):
        """Optuna's TPE sampler with its `HyperbandPruner` (min_epochs, max_epochs, eta): a trial
        reports its value at every rung and goes on until the pruner stops it."""

        name = "tpe-hb"

        def __init__(self, space, seed=None, fidelity: dict | None = None, n_startup_trials: int = 10, **params):
            super().__init__(space, seed, n_startup_trials=n_startup_trials, **params)
            if fidelity is None:
                raise UsageError("tpe-hb trains architectures partially: give --fidelity epochs")
            self.fidelity = Fidelity(**fidelity)
            self.rungs = self.fidelity.rungs
            pruner = optuna.pruners.HyperbandPruner(min_resource=self.fidelity.min_epochs,
                                                    max_resource=self.fidelity.max_epochs,
                                                    reduction_factor=self.fidelity.eta)
            with quiet_optuna():
                # a fixed name: the pruner assigns brackets by a checksum of it, so runs repeat under a seed
                self.study = optuna.create_study(study_name="tpe-hb", direction="maximize", sampler=self.study.sampler,
                                                 pruner=pruner)
            self.queue: list[tuple[int, int]] = []
            self.arch_of: dict[int, np.ndarray] = {}

        def _finish_known(self, trial, key: int) -> None:
            self.study.tell(trial, state=TrialState.FAIL)

        def observe(self, arch: np.ndarray, value: float) -> None:
            """Trials end in `tell_job` (at the last rung, or pruned), not at their first result."""

        def ask_job(self) -> tuple[np.ndarray, int]:
            if self.queue:
                key, rung = self.queue.pop(0)
                return self.arch_of[key], self.rungs[rung]
            arch = self.ask()
            self.arch_of[self._key(arch)] = arch
            return arch, self.rungs[0]

        def tell_job(self, arch: np.ndarray, epochs: int | None, value: float, recorded: dict | None = None) -> None:
            key = self._key(arch)
            rung = len(self.rungs) - 1 if epochs is None else self.rungs.index(int(epochs))
            if key not in self._seen:
                self.tell(arch, value)
            trial = self._trials[key]
            with quiet_optuna():
                if not np.isfinite(value):
                    self.study.tell(trial, state=TrialState.FAIL)
                elif rung == len(self.rungs) - 1:
                    self.study.tell(trial, value)
                else:
                    trial.report(value, int(self.rungs[rung]))
                    if trial.should_prune():
                        self.study.tell(trial, state=TrialState.PRUNED)
                    else:
                        self.queue.append((key, rung + 1))
                        return
            self._trials.pop(key, None)

    return TPEHyperband


def tpe_hyperband(space, seed=None, **params):
    """`tpe-hb` (module doc)."""
    return _tpe_hyperband()(space, seed=seed, **params)
