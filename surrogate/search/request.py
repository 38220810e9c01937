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

from surrogate._io import check_output_folder, create_new, default_threads, note, torch_threads
from surrogate.errors import UsageError
from surrogate.search import RANK_BY, WEIGHT_SHARING
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import LiveOracle, Oracle, TableOracle, live_config
from surrogate.search.problem import Problem, check_directions, metric_objective, parse_ref_point
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
           "seq_len": _AtLeast(1), "min_epochs": _AtLeast(1), "eta": _AtLeast(2), "budget_seconds": _AtLeast(1),
           "darts_beta": _AtLeast(0.0)}
#: options that read a table, and their defaults (a live campaign refuses any other value).
_TABLE_ONLY = {"report": None, "time_column": None, "features": None}
#: options of live training only, and their defaults (a table campaign refuses any other value).
_LIVE_ONLY = {"validate_with": "train", "epochs": None, "subset": None, "resolution": None, "validate_epochs": None, "seq_len": None}


#: the command's options (`surrogate search --help`): (SearchRequest field, flag, argparse keywords,
#: group). The CLI builds its parser from them, defaults from SearchRequest's; `SearchRequest.from_options`
#: reads the parsed values (an option not given keeps its default).
_TABLE = "tabular .h5 file, or a shipped dataset name (surrogate datasets); an existing file wins over a shipped name"
OPTIONS = [
    ("file", "file", dict(nargs="?", help=_TABLE + "; leave out and give --space and --dataset for a live campaign"), ""),
    ("metric", "--metric", dict(help="metric to optimise: COL (maximised, unless the table records it as minimised, as "
                                     "valid_bpc), COL:max or COL:min; e.g. cifar10_valid_acc (live: valid_acc, valid_bpc)"),
     ""),
    ("objectives", "--objectives", dict(help="COL:max,COL:min[,...]: one objective with its direction, or several "
                                             "(a Pareto front); params and flops are computed from the network when the "
                                             "table lacks them; live: any column of a training record"), ""),
    ("constraints", "--constraint", dict(action="append", metavar="COL<=V", help="a constraint (repeatable), e.g. "
                                         "\"params<=1e6\"; with one objective or several"), ""),
    ("ref_point", "--ref-point", dict(help="hypervolume reference point: auto or v1,v2,..."), ""),
    ("strategies", "--strategies", dict(help="bo, re, ls, rs, reinforce, tpe, predict-top, nsga2, enas, darts; with "
                                             "--fidelity also sh, hyperband, asha, median, bohb, asha-bo, tpe-hb "
                                             "(default: bo,re,ls,rs,reinforce,tpe; several objectives or constraints: "
                                             "bo,nsga2,re,rs, the strategies that serve them; --fidelity: "
                                             "asha-bo,bohb,asha,hyperband,tpe-hb,rs,bo)"), ""),
    ("budget", "--budget", dict(type=int, help="queries per run (default: 150; with --budget-seconds: no limit); "
                                                "with --fidelity every partial training counts as one"), ""),
    ("budget_seconds", "--budget-seconds", dict(type=float, metavar="S", help="training seconds per run (a table's "
                                                "simulated clock): a run stops starting jobs once it has trained S "
                                                "seconds in all"), ""),
    ("fidelity", "--fidelity", dict(choices=["epochs"], help="train architectures partially and continue them "
                                    "(strategies sh, hyperband, asha, median, bohb, asha-bo, tpe-hb): on a table with "
                                    "per-epoch records, or live, every rung a checkpoint a promotion resumes"),
     "fidelity"),
    ("min_epochs", "--min-epochs", dict(type=int, help="epochs of the lowest rung (default: 1)"), "fidelity"),
    ("eta", "--eta", dict(type=int, help="each rung trains eta times longer and keeps 1/eta (default: 3)"),
     "fidelity"),
    ("rank_by", "--rank-by", dict(choices=["auto", "value", "sotl"], help="what ranks partial trainings at a rung: "
                                  "the metric then (value), the training loss of their last epoch (sotl), or per rung "
                                  "whichever ranked this run's longer trainings better (default: value)"), "fidelity"),
    ("seeds", "--seeds", dict(type=int, help="runs per strategy, seeds 0..N-1"), ""),
    ("init", "--init", dict(type=int, help="random queries before a model-based strategy starts"), ""),
    ("batch", "--batch", dict(type=int, help="architectures proposed at once (BO: q-acquisition)"), ""),
    ("model", "--model", dict(help="BO's and predict-top's predictor: gp (on a space of plain choices the categorical GP, cgp), "
                                         "rf, svr, mlp, gbt, ensemble"), ""),
    ("encoding", "--encoding", dict(help="BO's encoding (default: search.bo.bo_encoding's rule)"), ""),
    ("features", "--features", dict(help="table columns BO reads beside its encoding, by isomorphism class: metrics "
                                         "of the file, computed params,flops, or zc (every zero-cost proxy column); "
                                         "none for no columns (default: zc when the table has zc_ columns)"), ""),
    ("acq", "--acq", dict(help="BO's acquisition: logei, ucb, ts (default: logei); several objectives: ehvi, nehvi, "
                               "parego (default: ehvi)"), ""),
    ("pool_size", "--pool-size", dict(type=int, help="predict-top: random candidates it ranks"), ""),
    ("report", "--report", dict(help="a table column reported for each run's top pick"), ""),
    ("validate_top", "--validate-top", dict(type=int, help="table: the best --report value among the K "
                                            "best found; live: train each run's K best again with the validation "
                                            "protocol (train+valid, test accuracy) into OUT/validated.h5"), ""),
    ("validate_with", "--validate-with", dict(choices=["train", "pbt"], help="live: how top picks get their final "
                                              "training: train (the validation protocol, default) or pbt "
                                              "(population-based training of lr and weight decay, 4 members per pick, "
                                              "under OUT/pbt/; test accuracy of each pick's best member)"), ""),
    ("time_column", "--time-column", dict(help="training-seconds column for the simulated clock (default: detected "
                                               "by name)"), ""),
    ("out", "--out", dict(help="output folder"), ""),
    ("storage", "--storage", dict(help="Optuna RDB storage URL: this process becomes one worker of a shared "
                                       "campaign"), ""),
    ("study", "--study", dict(help="study name of the shared campaign (with --storage)"), ""),
    ("worker_seed", "--worker-seed", dict(type=int, help="seed of this worker (with --storage)"), ""),
    ("space", "--space", dict(help="search space, e.g. nb201 or categorical:8x3"), "live"),
    ("epochs", "--epochs", dict(type=int, help="training epochs per query (default: 12; text: 1)"), "live"),
    ("subset", "--subset", dict(type=int, help="train on a class-balanced subset of N training images (text: the "
                                               "first N training characters)"), "live"),
    ("seq_len", "--seq-len", dict(type=int, help="text: characters per truncated-BPTT window (default: 16)"), "live"),
    ("resolution", "--resolution", dict(type=int, help="average-pool images to R x R (e.g. 7 for Fashion-MNIST)"),
     "live"),
    ("validate_epochs", "--validate-epochs", dict(type=int, help="epochs of the validation training (default: "
                                                  "--epochs)"), "live"),
    ("workers", "--workers", dict(type=int, help="queries trained at once on this machine; on a table, that many "
                                                 "simulated asynchronous workers on its clock"), "live"),
    ("dataset", "--dataset", dict(help="digits (built in), fashion-mnist, cifar10, shakespeare or text:DIR (enas/darts "
                                       "default: the table's)"), "training"),
    ("data_dir", "--data-dir", dict(help="folder holding the dataset files (fashion-mnist, cifar10)"), "training"),
    ("ws_epochs", "--ws-epochs", dict(type=int, help="enas/darts: supernet epochs per run"), "training"),
    ("channels", "--channels", dict(type=int, help="network width C (default: the table's, else 16; text: the hidden size, 32)"), "training"),
    ("cells", "--cells", dict(type=int, help="cells per stage N (default: the table's, else 5)"), "training"),
    ("batch_size", "--batch-size", dict(type=int, help="batch size (default: the table's, else 256; text: 128 streams)"), "training"),
    ("device", "--device", dict(help="cpu or cuda"), "training"),
    ("darts_beta", "--darts-beta", dict(type=float, help="beta-DARTS regularisation weight (0: plain DARTS)"), "training"),
]
#: the groups of OPTIONS in `--help`
GROUPS = {"fidelity": "multi-fidelity (--fidelity epochs: jobs of min-epochs * eta**k epochs, continued later)",
          "live": "live campaigns (no FILE: every query is trained, records in OUT/records.h5)",
          "training": "training (live campaigns; enas, darts: a supernet trained live per run)"}


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
    budget: int | None = None
    budget_seconds: float | None = None
    fidelity: str | None = None
    min_epochs: int | None = None
    eta: int | None = None
    rank_by: str | None = None
    seeds: int = Campaign.seeds
    init: int = Campaign.init
    batch: int = Campaign.batch
    model: str = Campaign.model
    encoding: str | None = None
    features: list[str] | None = None
    acq: str | None = None
    pool_size: int = Campaign.pool_size
    report: str | None = None
    validate_top: int = Campaign.validate_top
    validate_with: str = "train"
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
    seq_len: int | None = None
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

    @classmethod
    def from_options(cls, values: dict) -> "SearchRequest":
        """The request from the parsed OPTIONS (comma lists split; `--features none` is no column)."""
        request = cls(**{field: values[field] for field, *_ in OPTIONS if field in values})
        split = lambda text: [item.strip() for item in text.split(",") if item.strip()]  # noqa: E731
        if request.strategies is not None:
            request.strategies = split(request.strategies)
        if request.features is not None:
            request.features = [] if request.features.strip() == "none" else split(request.features)
        request.constraints = list(request.constraints or [])
        request.progress, request.command = not values.get("no_progress"), values.get("command_line", "")
        return request

    @property
    def live(self) -> bool:
        return self.file is None

    def objective_specs(self, directions: dict[str, str] | None = None) -> list[str]:
        """The objectives as "COL:max"/"COL:min" items. `--metric COL` takes the direction
        `directions` records for COL (a table's, or a live record's), else max; an objective
        whose direction contradicts the recorded one is refused."""
        if self.objectives is not None and self.metric:
            raise UsageError("--objectives replaces --metric: name every objective there (e.g. valid_acc:max,params:min)")
        if self.objectives is None and not self.metric:
            raise UsageError("--metric is required (or --objectives for a multi-objective search)")
        objectives = (Problem.parse(self.objectives).objectives if self.objectives is not None
                      else (metric_objective(self.metric, directions),))
        check_directions(objectives, directions)
        return [str(o) for o in objectives]

    def check(self) -> None:
        """Every check that needs no data: the objectives, bounds, options of the other kind of
        campaign, pairs."""
        plain = Problem.parse(self.objective_specs(), self.constraints).plain
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
        if self.workers != 1 and not plain:
            raise UsageError("--workers trains several queries at once: it serves one objective without constraints "
                             "(several objectives or constraints: one query at a time)")
        if self.strategies is not None and not self.strategies:
            raise UsageError("--strategies is empty")
        if self.fidelity is None and (self.min_epochs is not None or self.eta is not None or self.rank_by is not None):
            raise UsageError("--min-epochs, --eta and --rank-by shape partial trainings: give --fidelity epochs too")
        if bool(self.storage) != bool(self.study):
            raise UsageError("--storage and --study go together")
        if self.storage and (self.strategies is None or len(self.strategies) != 1 or self.validate_top
                             or self.workers != 1 or self.features):
            raise UsageError("a distributed campaign runs one strategy per worker (--strategies NAME), without "
                             "--validate-top, --workers or --features: start one worker per process or machine")
        if self.validate_with == "pbt":
            from surrogate.train.data import is_text

            if not self.validate_top:
                raise UsageError("--validate-with pbt trains top picks: give --validate-top K too")
            if is_text(self.dataset):
                raise UsageError("--validate-with pbt: population-based training of language models is not built yet")
        if self.storage and self.budget_seconds:
            raise UsageError("--budget-seconds runs in one process (simulated --workers on a table, --workers live); "
                             "workers sharing a --storage count whole trainings (--budget)")
        if self.storage and self.rank_by not in (None, "value"):
            raise UsageError("--rank-by: workers sharing a --storage rank partial trainings by value (Optuna's pruners)")
        if self.storage and set(self.strategies) & set(WEIGHT_SHARING):
            raise UsageError(f"{', '.join(self.strategies)} train a supernet live and cannot run as --storage workers")

    # --- what runs ----------------------------------------------------------------------------------
    def oracles(self, columns: list[str], notes: list[str]) -> tuple[Oracle, object, str]:
        """(the oracle, the one validating top picks when live and asked, a description of the
        source); `notes` gets what the user should know before the work starts."""
        if not self.live:
            from surrogate.catalog import resolve
            from surrogate.features import with_free_proxies
            from surrogate.tabular import Table

            table = with_free_proxies(Table.read(resolve(self.file)), notes.append, self.file)
            time_column = self.time_column or next((m for m in table.metric_names if TIME_COLUMN.search(m)), None)
            return TableOracle(table, columns, time_column), None, str(self.file)
        training = dict(channels=self.channels, cells=self.cells, batch_size=self.batch_size, device=self.device,
                        data_dir=self.data_dir, subset=self.subset, resolution=self.resolution, seq_len=self.seq_len)
        config, data = live_config(self.space, self.dataset, epochs=self.epochs, **training)
        oracle = LiveOracle(config, self.out, columns, data=data, data_dir=self.data_dir, workers=self.workers,
                            command=self.command)
        validator = None
        if self.validate_top and self.validate_with == "pbt":
            from surrogate.search.pbt import PBTRequest, PBTValidator

            epochs = self.validate_epochs or config.epochs
            validator = PBTValidator(PBTRequest(
                space=self.space, dataset=self.dataset, archs=[], epochs=epochs, interval=max(1, epochs // 6),
                workers=self.workers, out=str(Path(self.out) / "pbt"), channels=self.channels, cells=self.cells,
                batch_size=self.batch_size, subset=self.subset, resolution=self.resolution, device=self.device,
                data_dir=self.data_dir, progress=False, command=self.command))
        elif self.validate_top:
            check, check_data = live_config(self.space, self.dataset, epochs=self.validate_epochs or self.epochs,
                                            validation=True, **training)
            validator = LiveOracle(check, self.out, [check.test_metric], data=check_data, data_dir=self.data_dir,
                                   workers=self.workers, name="validated.h5", command=self.command)
        return oracle, validator, f"live: {config.space} on {self.dataset}"

    def campaign(self, oracle: Oracle) -> Campaign:
        objectives = self.objective_specs(oracle.directions)
        ref = parse_ref_point(self.ref_point)
        settings = None
        if self.strategies and set(self.strategies) & set(WEIGHT_SHARING):
            from surrogate.search.weight_sharing import supernet_settings
            from surrogate.supernet.network import SUPERNETS

            if oracle.space.kind not in SUPERNETS:
                raise UsageError(f"enas/darts search a weight-sharing supernet, and space {oracle.space.spec} has none "
                                 f"(spaces with one: {', '.join(SUPERNETS)})")

            settings = supernet_settings(oracle.table, self.dataset, self.ws_epochs, self.channels, self.cells,
                                         self.batch_size, self.device, self.data_dir, self.darts_beta)
        plain = Problem.parse(objectives, self.constraints).plain
        return Campaign(objectives=objectives, constraints=list(self.constraints), ref_point=None if ref is None else list(ref),
                        strategies=self.strategies, seeds=self.seeds, init=self.init,
                        budget=self.budget if self.budget is not None or self.budget_seconds else Campaign.budget,
                        budget_seconds=self.budget_seconds, workers=1 if self.live else self.workers,
                        fidelity=None if self.fidelity is None else {
                            "min_epochs": self.min_epochs or 1, "eta": self.eta or 3,
                            **({"rank_by": self.rank_by} if self.rank_by not in (None, RANK_BY) else {})},
                        batch=max(self.batch, self.workers) if plain and self.live else self.batch, model=self.model,
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
    notes: list[str] = []
    oracle, validator, source = request.oracles(columns, notes)
    try:
        campaign = request.campaign(oracle)
        checked = campaign.validate(oracle)
        if request.storage:
            return _work(request, campaign, oracle, checked[0])
        out = Path(request.out)
        claim(out, campaign_key(campaign, oracle), request.command)
        for text in notes:  # every check passed: what the user should know, before the work
            note(text)
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
    except BaseException:  # interrupted (Ctrl-C, SIGTERM) or failed: the workers stop at once
        for one in (oracle, validator):
            if one is not None:
                one.close(abort=True)
        raise
    for one in (oracle, validator):
        if one is not None:
            one.close()
    document, files = write_report(campaign, problem, truth, oracle, trajectories, out, source, request.command,
                                   time.perf_counter() - start, validated)
    if isinstance(validator, LiveOracle):
        files.append("validated.h5")
    text = (out / "summary.md").read_text() + f"\nwrote {out}/" + ", ".join(files)
    return SearchResult(document, text)


def validate_picks(run, k: int, validator, problem: Problem) -> list[dict]:
    """Train one run's k best architectures with the validation protocol (`validator`: training on
    train+valid, test accuracy); one row per pick."""
    picks = top_picks(run, k, problem)
    archs = validator.space.parse_many(picks.arch)
    if isinstance(validator, LiveOracle):
        values = validator.evaluate(archs).values[:, 0]
    else:  # population-based training (`--validate-with pbt`): one population per run
        values = validator.evaluate(archs, f"{run.strategy.iloc[0]}-seed{int(run.seed.iloc[0])}")
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
    fidelity = None if campaign.fidelity is None else {k: v for k, v in campaign.fidelity.items() if k != "rank_by"}
    try:
        done = run_worker(oracle, str(problem.objectives[0]), name, request.storage, request.study, request.budget,
                          seed=request.worker_seed, strategy_params=campaign.params_for(name, oracle, problem),
                          fidelity=fidelity)
    finally:
        if isinstance(oracle, LiveOracle):
            oracle.export()
    document = {"study": request.study, "strategy": name, "completed_by_this_worker": done}
    return SearchResult(document, f"worker finished: {done} trials completed by this worker")
