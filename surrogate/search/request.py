"""What `surrogate search` asks, checked once, and the one function that does it.

`SearchRequest` holds the command's options (the CLI fills it and calls `run_search`). Its
checks are declared as data where they can be, as scikit-learn's `_parameter_constraints`: sizes in
`_BOUNDS`, options that need a table or a live campaign in `_TABLE_ONLY` / `_LIVE_ONLY`; the rest are
a few cross-field rules in `check`. Then `run_search` builds the oracle (a table, or live
training), the campaign and, when asked, the oracle that validates top picks; claims the output
folder for this campaign; runs; writes the report; and returns the JSON document with the text
the command prints.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from surrogate._io import check_output_folder, create_new, default_threads, torch_threads
from surrogate.errors import UsageError
from surrogate.search import WEIGHT_SHARING
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import LiveOracle, Oracle, TableOracle, live_config
from surrogate.search.problem import Problem, parse_ref_point
from surrogate.search.report import top_picks, write_report

#: metric names read as "seconds of training" for the simulated clock (first match wins).
TIME_COLUMN = re.compile(r"(train|training|epoch)_?(time|seconds|secs)|(time|seconds)$")
#: the folder claim: which campaign owns an --out folder.
CLAIM = ".campaign"


@dataclass(frozen=True)
class _AtLeast:
    low: float

    def holds(self, value) -> bool:
        return value is None or value >= self.low


#: option -> its bound (None always allowed where the option is optional).
_BOUNDS = {"budget": _AtLeast(1), "seeds": _AtLeast(1), "init": _AtLeast(1), "batch": _AtLeast(1),
           "pool_size": _AtLeast(1), "validate_top": _AtLeast(0), "validate_epochs": _AtLeast(1),
           "workers": _AtLeast(1), "epochs": _AtLeast(1), "subset": _AtLeast(1), "resolution": _AtLeast(1),
           "channels": _AtLeast(1), "cells": _AtLeast(1), "batch_size": _AtLeast(1), "ws_epochs": _AtLeast(1),
           "darts_beta": _AtLeast(0.0)}
#: options that read a table, and their defaults (a live campaign refuses any other value).
_TABLE_ONLY = {"report": None, "time_column": None, "features": None}
#: options of live training only, and their defaults (a table campaign refuses any other value).
_LIVE_ONLY = {"workers": 1, "epochs": None, "subset": None, "resolution": None, "validate_epochs": None}


@dataclass
class SearchRequest:
    """The options of `surrogate search` (see its `--help`). `file`: a table path or shipped name;
    without it, `space` and `dataset` make the campaign live."""

    file: str | None = None
    metric: str | None = None
    objectives: str | None = None
    constraints: list[str] = field(default_factory=list)
    ref_point: str = "auto"
    strategies: list[str] | None = None
    budget: int = 150
    seeds: int = 20
    init: int = 10
    batch: int = 1
    model: str = "gp"
    encoding: str | None = None
    features: list[str] | None = None
    acq: str | None = None
    pool_size: int = 1000
    report: str | None = None
    validate_top: int = 0
    time_column: str | None = None
    out: str = "runs/search"
    storage: str | None = None
    study: str | None = None
    worker_seed: int | None = None
    space: str | None = None
    dataset: str | None = None
    data_dir: str | None = None
    epochs: int | None = None
    subset: int | None = None
    resolution: int | None = None
    validate_epochs: int | None = None
    workers: int = 1
    channels: int | None = None
    cells: int | None = None
    batch_size: int | None = None
    device: str = "cpu"
    ws_epochs: int = 50
    darts_beta: float = 0.0
    progress: bool = True
    command: str = ""

    @property
    def live(self) -> bool:
        return self.file is None

    def objective_specs(self) -> list[str]:
        """The objectives as "COL:max"/"COL:min" items (`--metric COL` is `COL:max`)."""
        if self.objectives is not None and self.metric:
            raise UsageError("--objectives replaces --metric: name every objective there (e.g. valid_acc:max,params:min)")
        if self.objectives is not None:
            return [str(o) for o in Problem.parse(self.objectives).objectives]
        if not self.metric:
            raise UsageError("--metric is required (or --objectives for a multi-objective search)")
        return [f"{self.metric}:max"]

    def check(self) -> None:
        """Every check that needs no data: bounds, options of the other kind of campaign, pairs."""
        for name, bound in _BOUNDS.items():
            if not bound.holds(getattr(self, name)):
                raise UsageError(f"--{name.replace('_', '-')} must be at least {bound.low:g}, got {getattr(self, name)}")
        if self.file and self.space:
            raise UsageError("give a table FILE or --space (a live campaign), not both")
        if self.live and not (self.space and self.dataset):
            raise UsageError("a search needs a table FILE, or --space and --dataset for a live campaign")
        wrong = [n for n, default in (_TABLE_ONLY if self.live else _LIVE_ONLY).items() if getattr(self, n) != default]
        if wrong:
            flags = ", ".join("--" + n.replace("_", "-") for n in wrong)
            raise UsageError(f"{flags}: only for a {'table campaign (a live campaign has no table)' if self.live else 'live campaign (--space and --dataset), not a table FILE'}")
        if self.workers != 1 and not Problem.parse(self.objective_specs(), self.constraints).plain:
            raise UsageError("--workers trains several queries at once: it serves one objective without constraints "
                             "(several objectives or constraints: one query at a time)")
        if self.strategies is not None and not self.strategies:
            raise UsageError("--strategies is empty")
        if bool(self.storage) != bool(self.study):
            raise UsageError("--storage and --study go together")
        if self.storage and (self.strategies is None or len(self.strategies) != 1 or self.validate_top
                             or self.workers != 1 or self.features):
            raise UsageError("a distributed campaign runs one strategy per worker (--strategies NAME), without "
                             "--validate-top, --workers or --features: start one worker per process or machine")
        if self.storage and set(self.strategies) & set(WEIGHT_SHARING):
            raise UsageError(f"{', '.join(self.strategies)} train a supernet live and cannot run as --storage workers")

    # --- what runs ----------------------------------------------------------------------------------
    def oracles(self, columns: list[str]) -> tuple[Oracle, Oracle | None, str]:
        """(the oracle, the one validating top picks when live and asked, a description of the source)."""
        if not self.live:
            from surrogate.catalog import resolve
            from surrogate.tabular import Table

            table = Table.read(resolve(self.file))
            time_column = self.time_column or next((m for m in table.metric_names if TIME_COLUMN.search(m)), None)
            return TableOracle(table, columns, time_column), None, str(self.file)
        training = dict(channels=self.channels or 16, cells=self.cells or 5, batch_size=self.batch_size or 256,
                        device=self.device, data_dir=self.data_dir, subset=self.subset, resolution=self.resolution)
        config, data = live_config(self.space, self.dataset, epochs=self.epochs or 12, **training)
        oracle = LiveOracle(config, self.out, columns, data=data, data_dir=self.data_dir, workers=self.workers,
                            command=self.command)
        validator = None
        if self.validate_top:
            check, check_data = live_config(self.space, self.dataset, epochs=self.validate_epochs or self.epochs or 12,
                                            validation=True, **training)
            validator = LiveOracle(check, self.out, ["test_acc"], data=check_data, data_dir=self.data_dir,
                                   workers=self.workers, name="validated.h5", command=self.command)
        return oracle, validator, f"live: {config.space} on {self.dataset}"

    def campaign(self, oracle: Oracle) -> Campaign:
        objectives = self.objective_specs()
        ref = parse_ref_point(self.ref_point)
        settings = None
        if self.strategies and set(self.strategies) & set(WEIGHT_SHARING):
            from surrogate.search.weight_sharing import supernet_settings

            settings = supernet_settings(oracle.table, self.dataset, self.ws_epochs, self.channels, self.cells,
                                         self.batch_size, self.device, self.data_dir, self.darts_beta)
        plain = Problem.parse(objectives, self.constraints).plain
        return Campaign(objectives=objectives, constraints=list(self.constraints), ref_point=None if ref is None else list(ref),
                        strategies=self.strategies, budget=self.budget, seeds=self.seeds, init=self.init,
                        batch=max(self.batch, self.workers) if plain else self.batch, model=self.model,
                        encoding=self.encoding, acq=self.acq, features=self.features, pool_size=self.pool_size,
                        report=self.report, validate_top=self.validate_top, weight_sharing=settings)


@dataclass
class SearchResult:
    """What `run_search` returns: the `--json` document and the text the command prints otherwise."""

    document: dict
    text: str


def run_search(request: SearchRequest) -> SearchResult:
    """Check everything (UsageError before any work), run the campaign with checkpoints under
    `out/.checkpoints`, write the report under `out` and return it."""
    request.check()
    columns = list(Problem.parse(request.objective_specs(), request.constraints).columns)
    oracle, validator, source = request.oracles(columns)
    try:
        campaign = request.campaign(oracle)
        checked = campaign.validate(oracle)
        if request.storage:
            return _work(request, campaign, oracle, checked[0])
        out = Path(request.out)
        claim(out, campaign_key(campaign, oracle), request.command)
        validated: list[dict] | None = [] if validator is not None else None

        def after_run(frame) -> None:
            if isinstance(oracle, LiveOracle):
                oracle.export()
            if validator is not None:
                validated.extend(validate_picks(frame, campaign.validate_top, validator, checked[0]))
                validator.export()

        start = time.perf_counter()
        threads = torch_threads(default_threads(request.workers)) if request.live else contextlib.nullcontext()
        with threads:  # live: what training in this process may use
            trajectories, problem, truth = campaign.run(oracle, out / ".checkpoints", request.progress, after_run,
                                                        checked=checked)
    finally:
        oracle.close()
        if validator is not None:
            validator.close()
    document, files = write_report(campaign, problem, truth, oracle, trajectories, out, source, request.command,
                                   time.perf_counter() - start, validated)
    if validator is not None:
        files.append("validated.h5")
    text = (out / "summary.md").read_text() + f"\nwrote {out}/" + ", ".join(files)
    return SearchResult(document, text)


def validate_picks(run, k: int, validator: Oracle, problem: Problem) -> list[dict]:
    """Train one run's k best architectures with the validation protocol (`validator`: training on
    train+valid, test accuracy); one row per pick."""
    picks = top_picks(run, k, problem)
    values = validator.evaluate(validator.space.parse_many(picks.arch)).values[:, 0]
    searched = picks["value"] if "value" in picks else picks[problem.objectives[0].name]
    return [{"strategy": str(p.strategy), "seed": int(p.seed), "arch": str(p.arch), "search_value": float(s),
             "validated_value": float(v) if np.isfinite(v) else None}
            for p, s, v in zip(picks.itertuples(), searched, values)]


def campaign_key(campaign: Campaign, oracle: Oracle) -> str:
    """What makes two campaigns the same: their settings and what answers them."""
    spec = json.dumps({"campaign": asdict(campaign), "input": oracle.fingerprint}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(spec.encode()).hexdigest()


def claim(out: Path, key: str, command: str) -> None:
    """Make `out` this campaign's, atomically: the first campaign to create `out/.campaign` owns the
    folder; the same campaign may share it (a resume, a rerun, a second process), another gets a
    one-line error before any work. A folder from before claims holds run.json: its campaign must
    be this one too."""
    check_output_folder(out)
    record = json.dumps({"key": key, "command": command}) + "\n"
    path = out / CLAIM
    if not create_new(path, record):
        try:
            owner = json.loads(path.read_text())
        except (OSError, ValueError):
            raise UsageError(f"--out {out}: unreadable {CLAIM}; remove it or choose another --out") from None
        if owner.get("key") != key:
            raise UsageError(f"--out {out} holds another campaign ({owner.get('command', '?')}); "
                             "choose another --out or remove it")


def _work(request: SearchRequest, campaign: Campaign, oracle: Oracle, problem: Problem) -> SearchResult:
    """This process as one worker of a campaign shared through an Optuna RDB storage."""
    from surrogate.search.distributed import run_worker

    if not problem.plain:
        raise UsageError("--objectives/--constraint campaigns run in one process (no --storage)")
    name = campaign.strategies[0]
    try:
        done = run_worker(oracle, str(problem.objectives[0]), name, request.storage, request.study, request.budget, seed=request.worker_seed,
                          strategy_params=campaign.params_for(name, oracle, problem))
    finally:
        if isinstance(oracle, LiveOracle):
            oracle.export()
    document = {"study": request.study, "strategy": name, "completed_by_this_worker": done}
    return SearchResult(document, f"worker finished: {done} trials completed by this worker")
