"""Many workers, one campaign: the worker loop behind `surrogate search ... --storage URL --study NAME`.

Each worker process (on one or many machines) opens the same Optuna study in an RDB storage
(PostgreSQL, MySQL, SQLite) and evaluates architectures until the study holds exactly `budget`
COMPLETE trials. Three mechanisms keep the campaign exact:

* **No duplicates**: each worker's `SurrogateSampler` treats other workers' running trials as
  pending and claims its arch before using it (see `surrogate.search.sampler`).
* **No lost trial**: workers record a heartbeat while a trial runs; a worker that dies mid-trial
  stops beating, the next worker that looks (busy or idle) fails the stale trial and Optuna's
  `RetryHeartbeatStaleTrialCallback` re-queues it as a WAITING trial with the same params, which
  the next free worker runs.
* **Exact budget**: a worker starts a trial only while COMPLETE + RUNNING + WAITING < budget
  (otherwise it waits, watching for stale trials, until the campaign ends). Two workers may still
  start at once; trial numbers are assigned under a lock, so the one whose trial has `budget` or more
  live trials before it ends it at once as PRUNED (user attr `surplus`, no params, nothing sampled).
  The retry of a trial that went stale in the instant between such checks can be pruned this way:
  the budget stays exact and the lost class is simply not evaluated.

Multi-fidelity workers (`fidelity`, strategies `asha`, `asha-bo`, `hyperband`, `bohb`, `median`):
a trial is one architecture trained rung by rung (`fidelity.Fidelity.rungs`). At each rung it
reports its value to the study's Optuna pruner, which keeps it or stops it (PRUNED): ASHA is
Optuna's `SuccessiveHalvingPruner`, Hyperband its `HyperbandPruner`, the median rule its
`MedianPruner` (which compares with the median of *completed* trials at that epoch, where the
in-process `median` compares with every value its rung has seen). New architectures come from the
sampler's strategy (`rs`, or `bo` for asha-bo and bohb, fitted on the whole trainings), and
`budget` counts whole trainings (COMPLETE trials); PRUNED trials were trained partially. A live
worker checkpoints every rung (`LiveOracle`, under its own output folder), so the re-queued retry of
a killed trial on the same machine resumes its training where the checkpoint left it.

Seeds: every worker may get the same `seed`; the sampler reseeds its strategy from (seed, trial
number), so draws differ between trials and a single worker is reproducible.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import time

import optuna
from optuna.trial import FrozenTrial, TrialState

from surrogate._io import quiet_optuna
from surrogate.errors import UsageError
from surrogate.search import MULTI_FIDELITY
from surrogate.search.fidelity import Fidelity
from surrogate.search.oracle import Oracle, TableOracle
from surrogate.search.problem import check_directions, metric_objective
from surrogate.search.sampler import SurrogateSampler, suggest_arch
from surrogate.storage import POLL_SECONDS, fail_stale, open_storage
from surrogate.tabular import Table

_LIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


#: a table holding fewer than 1 / SPARSE_LIMIT of its space is refused: workers sample the whole space
SPARSE_LIMIT = 100
#: multi-fidelity strategies as storage workers: the sampler's strategy and the study's Optuna pruner
PRUNED_STRATEGIES = {"asha": ("rs", "sha"), "asha-bo": ("bo", "sha"), "hyperband": ("rs", "hyperband"),
                     "bohb": ("bo", "hyperband"), "median": ("rs", "median")}


def _pruner(kind: str, fidelity: Fidelity) -> optuna.pruners.BasePruner:
    if kind == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=fidelity.min_epochs, reduction_factor=fidelity.eta)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=fidelity.min_epochs, max_resource=fidelity.max_epochs,
                                              reduction_factor=fidelity.eta)
    return optuna.pruners.MedianPruner(n_startup_trials=fidelity.eta, n_warmup_steps=0)


def run_worker(source: str | Oracle, metric: str, strategy: str, storage: str, study_name: str, budget: int,
               seed: int | None = None, strategy_params: dict | None = None, simulate_seconds: float = 0.0,
               heartbeat_interval: int = 10, grace_period: int | None = None, fidelity: dict | None = None) -> int:
    """Evaluate archs in the shared study until it holds `budget` COMPLETE trials; return how many
    this worker completed. `metric` is the objective (`COL`, maximised, or `COL:min`/`COL:max`);
    `source` is the tabular benchmark's path or any `Oracle` answering that column (a `LiveOracle`
    trains each trial's architecture on this machine, into its own records).

    `simulate_seconds` sleeps in each trial (at each rung), standing in for training. Archs absent
    from the table (or NaN there) end as FAIL trials, which do not count towards the budget. `fidelity`
    ({"min_epochs", "eta"}): trials trained rung by rung under a pruner, `strategy` one of
    `PRUNED_STRATEGIES` (module doc).
    """
    if budget < 1:
        raise UsageError(f"budget must be at least 1, got {budget}")
    name = metric_objective(metric).name
    target = source if isinstance(source, Oracle) else TableOracle(Table.read(source), [name])
    rungs, pruner = (None,), None
    if (strategy in MULTI_FIDELITY) != (fidelity is not None):
        raise UsageError(f"{strategy} trains architectures partially: give --fidelity epochs" if fidelity is None else
                         f"--fidelity with workers sharing a storage: --strategies one of {', '.join(PRUNED_STRATEGIES)}")
    if fidelity is not None:
        if strategy not in PRUNED_STRATEGIES:
            raise UsageError(f"{strategy} cannot run as workers sharing a storage; with --fidelity: "
                             f"{', '.join(PRUNED_STRATEGIES)}")
        full = target.max_epochs(name)
        if full is None:
            raise UsageError(f"--fidelity epochs needs per-epoch records of {name}")
        schedule = Fidelity(**{"max_epochs": full, **fidelity})
        strategy, kind = PRUNED_STRATEGIES[strategy]
        strategy_params = {**(strategy_params or {}).get("searcher_params", {}),
                           "init": (strategy_params or {}).get("init", 10)} if strategy == "bo" else {}
        rungs, pruner = schedule.rungs, _pruner(kind, schedule)
    objective = metric_objective(metric, target.directions)
    check_directions([objective], target.directions)
    space = target.space
    problem = target.problem([str(objective)])
    if target.domain() is not None and space.size > SPARSE_LIMIT * len(target.domain()):
        raise UsageError(f"a distributed campaign's workers sample the whole space {space.spec} ({space.size:.3g} "
                         f"architectures), and this table holds {len(target.domain())}: nearly every trial would miss "
                         "it; search the table in one process (no --storage)")
    if budget > target.max_queries(problem):
        raise UsageError(f"budget {budget} exceeds the {target.max_queries(problem)} architecture classes "
                         f"with a {objective.name!r} value")
    if pruner is not None and budget * schedule.eta ** (len(rungs) - 1) > target.max_queries(problem):
        raise UsageError(f"budget {budget} whole trainings: the pruner stops most trainings early, so it needs "
                         f"about {budget * schedule.eta ** (len(rungs) - 1)} architecture classes (budget x eta^"
                         f"{len(rungs) - 1}), and {target.max_queries(problem)} have a {objective.name!r} value")
    sampler = SurrogateSampler(strategy, space=space, seed=seed, **(strategy_params or {}))
    rdb = open_storage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    direction = "maximize" if objective.maximize else "minimize"
    study = optuna.create_study(storage=rdb, study_name=study_name, direction=direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise UsageError(f"study {study_name!r} exists and {study.direction.name.lower()}s {objective.name}; "
                         f"this campaign {direction}s it")

    def objective(trial: optuna.Trial) -> float:
        if _surplus(study, trial.number, budget):
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("budget already taken by other workers")
        arch = suggest_arch(trial, space)
        trial.set_user_attr("arch", space.format(arch))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who ran it
        for epochs in rungs:
            if simulate_seconds > 0:
                time.sleep(simulate_seconds)
            try:
                answer = target.evaluate(arch[None], None if epochs is None else [epochs])
            except UsageError:  # not in the table (nor an isomorph): a failed trial, not counted
                return math.nan
            if target.clock:
                trial.set_user_attr("train_seconds", float(answer.seconds[0]))
            value = float(answer.values[0, 0])
            if epochs is not None and epochs != rungs[-1]:
                if not math.isfinite(value):
                    return math.nan
                trial.report(value, epochs)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"stopped after {epochs} epochs")
        return value

    completed = 0

    def count(_: optuna.Study, trial: FrozenTrial) -> None:
        nonlocal completed
        completed += trial.state == TrialState.COMPLETE

    with quiet_optuna():
        while True:
            fail_stale(study)
            states = [t.state for t in study.get_trials(deepcopy=False, states=_LIVE)]
            if states.count(TrialState.COMPLETE) >= budget:
                return completed
            if TrialState.WAITING not in states and len(states) >= budget:
                time.sleep(POLL_SECONDS)  # the rest of the budget is running elsewhere
                continue
            study.optimize(objective, n_trials=1, callbacks=[count])


def _surplus(study: optuna.Study, number: int, budget: int) -> bool:
    """Whether `budget` live trials were numbered before trial `number` (it lost a start race)."""
    earlier = study.get_trials(deepcopy=False, states=_LIVE)
    return sum(t.number < number for t in earlier) >= budget


# --- `python -m surrogate.search.distributed` ------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m surrogate.search.distributed",
                                     description="One worker of a campaign shared through an Optuna RDB storage.")
    parser.add_argument("table", help="tabular benchmark (HDF5)")
    parser.add_argument("--metric", required=True, help="COL (maximised), COL:max or COL:min")
    parser.add_argument("--strategy", default="bo")
    parser.add_argument("--storage", required=True, help="SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/db")
    parser.add_argument("--study", required=True)
    parser.add_argument("--budget", type=int, required=True, help="COMPLETE trials the study ends with")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--strategy-params", default="{}", help="JSON object of strategy hyperparameters")
    parser.add_argument("--simulate-seconds", type=float, default=0.0)
    parser.add_argument("--heartbeat-interval", type=int, default=10)
    parser.add_argument("--grace-period", type=int, default=None)
    parser.add_argument("--fidelity", default=None, help='JSON object {"min_epochs": 1, "eta": 3}: train rung by rung')
    args = parser.parse_args(argv)
    try:
        try:
            params = json.loads(args.strategy_params)
        except ValueError as err:
            raise UsageError(f"--strategy-params is not JSON: {err}") from None
        if not isinstance(params, dict):
            raise UsageError("--strategy-params must be a JSON object")
        try:
            fidelity = None if args.fidelity is None else dict(json.loads(args.fidelity))
        except (ValueError, TypeError) as err:
            raise UsageError(f"--fidelity is not a JSON object: {err}") from None
        unknown = set(fidelity or ()) - {"min_epochs", "eta"}
        if unknown:
            raise UsageError(f"--fidelity holds min_epochs and eta, not {', '.join(sorted(unknown))}")
        done = run_worker(args.table, args.metric, args.strategy, args.storage, args.study, args.budget,
                          seed=args.seed, strategy_params=params, simulate_seconds=args.simulate_seconds,
                          heartbeat_interval=args.heartbeat_interval, grace_period=args.grace_period,
                          fidelity=fidelity)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
