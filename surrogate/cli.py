"""The `surrogate` command. Every user error is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from typing import Callable, Sequence

from surrogate import __version__
from surrogate._io import check_output_folder
from surrogate.errors import UsageError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not usage + message) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        where = self.prog.removeprefix("surrogate").strip()  # main() prints the "surrogate: error:" prefix
        raise UsageError(f"{where}: {message}" if where else message)


def _csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


#: the help of a FILE argument that is read: how a name and a path are told apart
#: `bench predictors`' models when --models is not given.
DEFAULT_MODELS = "gp,rf,svr,mlp,gbt,ensemble"
_TABLE_FILE = ("tabular .h5 file, or a shipped dataset name (surrogate datasets); an existing file wins over a "
               "shipped name")


def _read_table(name_or_path: str):
    """A table FILE, or a shipped dataset by name (`surrogate datasets`): an existing file wins."""
    from surrogate.catalog import resolve
    from surrogate.tabular import Table

    return Table.read(resolve(name_or_path))


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, for provenance records; a storage URL's password as *** (`--storage`)."""
    words = sys.argv[1:] if argv is None else argv
    return shlex.join(["surrogate", *(re.sub(r"(://[^:/@\s]+):[^/\s]*@", r"\1:***@", w) for w in words)])


# --- import -----------------------------------------------------------------------------------
def _cmd_import(args: argparse.Namespace) -> int:
    from surrogate.importer import import_table

    _check_output_file(args.out, inputs=[args.csv])
    table = import_table(args.csv, args.space, args.out, arch_column=args.arch_column, dataset=args.dataset,
                         metrics=_csv_list(args.metrics) if args.metrics else None, command=args.command_line)
    print(f"wrote {args.out}: {table.n} archs, {len(table.metrics)} metrics ({', '.join(table.metrics)})")
    return 0


# --- datasets ---------------------------------------------------------------------------------
def _cmd_datasets(args: argparse.Namespace) -> int:
    import json

    from surrogate.catalog import SHIPPED
    from surrogate.tabular import describe_shipped, shipped_text

    if args.path:  # a shipped name only: a local file of that name never stands in for it
        if args.path not in SHIPPED:
            raise UsageError(f"--path {args.path}: not a shipped dataset (shipped: {', '.join(SHIPPED)})")
        if not SHIPPED[args.path].path.is_file():
            raise UsageError(f"--path {args.path}: its file {SHIPPED[args.path].path} is missing from this installation")
        print(SHIPPED[args.path].path)
        return 0
    print(json.dumps(describe_shipped()) if args.json else shipped_text())
    return 0


# --- info -------------------------------------------------------------------------------------
def _cmd_info(args: argparse.Namespace) -> int:
    from surrogate.tabular import info_text

    print(info_text(_read_table(args.file), args.file))
    return 0


# --- bench predictors ------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in _csv_list(text)]
    except ValueError:
        raise UsageError(f"expected comma-separated integers, got {text!r}") from None


def _cmd_bench_predictors(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from surrogate.benchmark import PredictorBenchmark, default_encodings, default_pairs, json_document, run_and_report
    from surrogate.features import default_features, expand_features, with_free_proxies

    notes: list[str] = []
    table = with_free_proxies(_read_table(args.file), notes.append, args.file)
    features = default_features(table) if args.features is None else [] if args.features == "none" else \
        _csv_list(args.features)
    features = expand_features(table, features)
    defaults = not (args.models or args.encodings)
    bench = PredictorBenchmark(metric=args.metric, models=_csv_list(args.models or DEFAULT_MODELS),
                               encodings=_csv_list(args.encodings) if args.encodings else default_encodings(table.space),
                               train_sizes=_int_list(args.train_sizes), test_size=args.test_size, seeds=args.seeds,
                               features=features, supernet_column=args.supernet_column,
                               pairs=default_pairs(table.space, features) if defaults else [])
    summary = run_and_report(bench, table, Path(args.out), str(args.file), args.command_line, not args.no_progress, notes)
    if args.json:
        print(json.dumps(json_document(args.metric, summary)))
    else:
        print((Path(args.out) / "summary.md").read_text())
        print(f"wrote {args.out}/results.csv, summary.md, kendall_tau.png, run.json")
    return 0


# --- proxies ----------------------------------------------------------------------------------
def _cmd_proxies(args: argparse.Namespace) -> int:
    from surrogate.proxies import fill_table, prepare

    proxies, config, device = prepare(args.file, _csv_list(args.proxies), args.dataset, workers=args.workers,
                                      device=args.device, overwrite=args.overwrite, batch_size=args.batch_size,
                                      channels=args.channels, cells=args.cells, seed=args.seed,
                                      grad_batch=args.grad_batch)
    facts = fill_table(args.file, proxies, config, overwrite=args.overwrite, workers=args.workers, device=device,
                       data_dir=args.data_dir, progress=not args.no_progress, command=args.command_line)
    print(f"wrote {', '.join('zc_' + p for p in proxies)} into {args.file}: {facts['classes']} classes "
          f"({facts['from_cache']} from the shipped cache, {facts['from_journal']} from the journal, "
          f"{facts['computed']} computed in {facts['compute_seconds']:.1f} s); {config.dataset} inputs "
          f"{config.in_channels}x{config.side}x{config.side}, batch {config.batch_size} (gradients: {config.grad_batch}), "
          f"C={config.channels}, N={config.cells}, seed {config.seed}")
    return 0


# --- latency ----------------------------------------------------------------------------------
def _cmd_latency(args: argparse.Namespace) -> int:
    import json

    from surrogate.nets.latency import run_latency

    like = args.like or (args.into if not args.space else None)
    if bool(args.space) == bool(like):
        raise UsageError("give --space SPEC or --like TABLE (whose space and network settings are taken)")
    settings = {"channels": 16, "cells": 5, "num_classes": 10, "input_shape": (3, 32, 32)}
    space = args.space
    if like:
        from surrogate.features import network_kwargs

        table = _read_table(like)
        space, settings = table.space, {**settings, **network_kwargs(table, "latency")}
    given = {k: getattr(args, k) for k in ("channels", "cells", "num_classes") if getattr(args, k) is not None}
    if args.input_shape:
        try:
            given["input_shape"] = tuple(int(v) for v in args.input_shape.split(","))
        except ValueError:
            raise UsageError(f"--input-shape {args.input_shape!r}: write C,H,W, e.g. 3,32,32") from None
    document, text = run_latency(space, args.out, device=args.device, batch=args.batch, threads=args.threads,
                                 repeats=args.repeats, warmup=args.warmup, check=args.check, seed=args.seed,
                                 **{**settings, **given}, command=args.command_line, progress=not args.no_progress,
                                 into=args.into)
    print(json.dumps(document) if args.json else text)
    return 0


# --- search -----------------------------------------------------------------------------------
def _cmd_search(args: argparse.Namespace) -> int:
    import json

    from surrogate.search.request import SearchRequest, run_search

    result = run_search(SearchRequest.from_options(vars(args)))
    print(json.dumps(result.document) if args.json else result.text)
    return 0


def _cmd_pbt(args: argparse.Namespace) -> int:
    import json

    from surrogate.search.pbt import PBTRequest, run_pbt

    fields = set(PBTRequest.__dataclass_fields__) - {"progress", "command"}
    document, text = run_pbt(PBTRequest(**{k: v for k, v in vars(args).items() if k in fields},
                                        progress=not args.no_progress, command=args.command_line))
    print(json.dumps(document) if args.json else text)
    return 0


# --- generate ---------------------------------------------------------------------------------
def _cmd_generate(args: argparse.Namespace) -> int:
    from surrogate.generate import default_out, generate, journal_path, make_config

    if bool(args.storage) != bool(args.study):
        raise UsageError("--storage and --study go together")
    out = args.out or default_out(args.space, args.dataset)
    _check_output_file(out)
    config, data = make_config(args.space, args.dataset, archs=args.archs, unique=args.unique, epochs=args.epochs,
                               seeds=args.seeds, channels=args.channels, cells=args.cells, batch_size=args.batch_size,
                               device=args.device, data_dir=args.data_dir, subset=args.subset,
                               resolution=args.resolution, test_at_end=args.test_at_end,
                               repeat_archs=args.repeat_archs, seq_len=args.seq_len)
    table = generate(config, out, workers=args.workers, data_dir=args.data_dir, command=args.command_line,
                     progress=not args.no_progress, data=data, storage=args.storage, study=args.study)
    done, total = table.attrs["provenance"]["jobs_done"], config.total_jobs
    where = f"study {args.study}" if args.storage else f"journal {journal_path(out)}"
    print(f"wrote {out}: {table.n} archs x {config.seeds} seed(s), {done}/{total} (arch, seed) records ({where})")
    if done < total:  # this process found nothing left to take: the rest is claimed by other workers
        print(f"surrogate: note: {out} is not complete yet: {total - done} pair(s) are still being trained by other "
              "workers; the last worker to finish writes the complete table (or rerun this command later)",
              file=sys.stderr)
    return 0


# --- supernet ---------------------------------------------------------------------------------
def _cmd_supernet_train(args: argparse.Namespace) -> int:
    import torch

    from surrogate._io import default_threads
    from surrogate.supernet.spos import PROTOCOL, SupernetConfig, protocol, train_supernet
    from surrogate.train.trainer import resolve_device

    _check_output_file(args.out)
    like = _read_table(args.like) if args.like else None
    config = SupernetConfig(**protocol(like, args.like, **{k: getattr(args, k) for k in PROTOCOL}), epochs=args.epochs,
                            lr=args.lr, paths_per_step=args.paths_per_step, seed=args.seed, device=args.device)
    resolve_device(args.device)
    data = config.load_data(args.data_dir)
    torch.set_num_threads(default_threads(1))
    document = train_supernet(config, data, args.out, command=args.command_line, progress=not args.no_progress)
    print(f"wrote {args.out}: {config.space} supernet, {document['epochs_done']} epochs of SPOS on {config.dataset} "
          f"(final train loss {document['train_loss'][-1]:.4f}, {document['seconds']:.1f} s of training)")
    return 0


def _cmd_supernet_estimate(args: argparse.Namespace) -> int:
    import torch

    from surrogate._io import default_threads
    from surrogate.supernet import estimate

    plan = estimate.prepare(args.supernet, args.into, args.column, args.overwrite, args.calib_batches, args.data_dir,
                            args.device)
    for note in plan["notes"]:
        print(f"surrogate: note: {note}", file=sys.stderr)
    torch.set_num_threads(default_threads(1))
    facts = estimate.run(plan, seed=args.seed, progress=not args.no_progress, command=args.command_line)
    line = f"wrote {facts['column']} and {facts['loss_column']} for {facts['archs']} archs into {args.into}"
    if facts["reference"]:
        line += f" (Kendall tau against {facts['reference']}: {facts['tau']:.3f})"
    print(line)
    return 0


# --- demo -------------------------------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded default (`surrogate.demo`)."""
    from pathlib import Path

    from surrogate import demo

    source = args.data or demo.DEMO_TABLE
    table = _read_table(source)
    check_output_folder(args.out)
    print(f"data: {source} ({table.n} trained architectures of {table.space} on {table.attrs.get('dataset')}); "
          f"writing to {args.out}/", file=sys.stderr)
    print(demo.run(table, source, Path(args.out), args.command_line, progress=not args.no_progress))
    return 0


def _check_output_file(out, inputs: Sequence[str] = ()) -> None:
    """An output file that can be written, is none of the inputs and no shipped table (by any path),
    checked before any work."""
    from pathlib import Path

    from surrogate.catalog import refuse_write

    out = Path(out)
    refuse_write(out, "--out")
    if any(out.resolve() == Path(i).resolve() for i in inputs):
        raise UsageError(f"--out {out}: is one of the inputs; choose another file")
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder, expected a file")
    check_output_folder(out.parent, flag=f"--out {out}")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: the file is not writable")


# --- parser helpers -------------------------------------------------------------------------------
def _add_space_and_data(p: argparse.ArgumentParser, required: bool = True) -> None:
    """What is trained on what (`generate`, `supernet train`)."""
    p.add_argument("--space", required=required, help="space spec: nb201, or categorical:... for a chain of blocks")
    p.add_argument("--dataset", required=required, help="digits (built in), fashion-mnist, cifar10, shakespeare "
                   "(characters) or text:DIR (a folder of .txt files)")
    p.add_argument("--data-dir", help="folder holding the dataset files (fashion-mnist, cifar10, shakespeare)")
    p.add_argument("--subset", type=int, help="train on a class-balanced subset of this many training images, or "
                   "the first this many training characters (valid and test stay whole; default: all)")
    p.add_argument("--resolution", type=int, help="average-pool images to RxR, R dividing the side (e.g. 14 for "
                   "Fashion-MNIST's 28; default: native)")


def _add_network_size(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    p.add_argument("--channels", type=int, default=16 if defaults else None, help="network width C (default: 16, "
                   "NB201's; rnn-cell: the hidden size, default 32)")
    p.add_argument("--cells", type=int, default=5 if defaults else None, help="cells per stage N for nb201 (default: 5, NB201's)")


# --- parser (commands) ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="surrogate", description="NAS surrogate benchmarks, search campaigns and tabular datasets.")
    parser.add_argument("--version", action="version", version=f"surrogate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("import", help="turn a CSV (one row per architecture) into a tabular HDF5 file")
    p.add_argument("csv")
    p.add_argument("--space", required=True, help="space spec, e.g. nb201 or categorical:8x3")
    p.add_argument("--out", required=True, help="output .h5 file (written atomically; never a shipped table, "
                   "by any path)")
    p.add_argument("--arch-column", default="arch", help="column holding arch strings (default: arch)")
    p.add_argument("--metrics", help="comma-separated metric columns (default: every other numeric column)")
    p.add_argument("--dataset", help="dataset name to record (default: the CSV's file name)")
    p.set_defaults(run=_cmd_import)

    p = sub.add_parser("datasets", help="list the tabular datasets the package ships (usable by name)")
    p.add_argument("--json", action="store_true", help="print a JSON list to stdout")
    p.add_argument("--path", metavar="NAME", help="print the file of the shipped dataset NAME (to copy it, say); "
                   "shipped names only: a local file called NAME is never printed")
    p.set_defaults(run=_cmd_datasets)

    p = sub.add_parser("info", help="summarise a tabular HDF5 file")
    p.add_argument("file", help=_TABLE_FILE)
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser("demo", help="the main job on the embedded dataset: predictor benchmark and a search campaign")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--data", help="a table FILE or shipped name (default: nb201-fmnist, trained here on Fashion-MNIST)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_demo)

    from dataclasses import MISSING, fields

    from surrogate.search.request import GROUPS, OPTIONS, SearchRequest

    p = sub.add_parser("search", help="search campaigns, on a tabular benchmark or live (every query trained): BO "
                       "against baselines, for one objective or several")
    groups = {"": p, **{key: p.add_argument_group(title) for key, title in GROUPS.items()}}
    defaults = {f.name: f.default for f in fields(SearchRequest)}
    for field, flag, spec, group in OPTIONS:  # not given: absent, so the request keeps its default
        shown = "" if defaults[field] in (None, MISSING) else f" (default: {defaults[field]})"
        groups[group].add_argument(flag, **({} if flag == field else {"dest": field}),
                                   **{**spec, "help": spec["help"] + shown}, default=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_search)

    p = sub.add_parser("pbt", help="population-based training of training hyperparameters (lr, weight decay) of given "
                       "architectures, live (resumable)")
    _add_space_and_data(p)
    p.add_argument("--arch", dest="archs", action="append", required=True, help="an architecture (repeatable)")
    from surrogate.search.pbt import PBTRequest

    for flag, kind, text in (("--population", int, "trainings at once"), ("--epochs", int, "epochs of each training"),
                             ("--interval", int, "epochs between exploit steps"), ("--quantile", float, "the bottom "
                             "share copying the top share"), ("--seed", int, "seed of the draws and trainings"),
                             ("--workers", int, "members trained at once on this machine"),
                             ("--batch-size", int, "batch size (default: 256)"), ("--out", str, "output folder")):
        default = getattr(PBTRequest, flag[2:].replace("-", "_"))
        p.add_argument(flag, type=kind, default=default, help=text + ("" if default is None else f" (default: {default})"))
    p.add_argument("--hyper", action="append", metavar="NAME[=LOW:HIGH]", help="a hyperparameter to tune, lr or "
                   "weight_decay, log-uniform in its range (repeatable; default: both, lr 0.01:0.5, weight_decay 1e-5:1e-2)")
    p.add_argument("--no-explore", dest="explore", action="store_false", help="the baseline: random search over the "
                   "same hyperparameters, every member trained alone")
    _add_network_size(p, defaults=False)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--storage", help="Optuna RDB storage URL (e.g. PostgreSQL): this process becomes one worker of a "
                   "population shared by processes on many machines, which all give the same --out, a folder every "
                   "machine sees (exploit copies checkpoint files)")
    p.add_argument("--study", help="study name of the shared population (with --storage)")
    p.add_argument("--json", action="store_true", help="print pbt.json to stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_pbt)

    p = sub.add_parser("generate", help="train architectures of a space on a dataset into a tabular file (resumable)")
    _add_space_and_data(p)
    p.add_argument("--epochs", type=int, help="training epochs (default: 12, NB201's short schedule; text: 1)")
    p.add_argument("--seeds", type=int, default=1, help="training seeds 0..N-1 per architecture (default: 1)")
    p.add_argument("--repeat-archs", type=int, help="train seeds 1..N-1 only for the first K architectures "
                   "(default: all of them); seed 0 always covers every architecture")
    p.add_argument("--archs", default="all", help="all, a number N (N distinct ones, fixed seed), or a file of arch strings")
    p.add_argument("--unique", action="store_true", help="one architecture per isomorphism class")
    _add_network_size(p, defaults=False)
    p.add_argument("--batch-size", type=int, help="training batch size (default: 256; text: 128 streams)")
    p.add_argument("--seq-len", type=int, help="text: characters per truncated-BPTT window (default: 16)")
    p.add_argument("--test-at-end", action="store_true",
                   help="evaluate the test split after the last epoch only (earlier epochs' test records are NaN)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes sharing the job (default: 1)")
    p.add_argument("--out", help="output .h5 (default: runs/generate/SPACE-DATASET.h5); its journal is OUT.parts/")
    p.add_argument("--storage", help="Optuna RDB storage URL shared by workers on many machines")
    p.add_argument("--study", help="study name of the shared job (with --storage)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_generate)

    supernet = sub.add_parser("supernet", help="weight-sharing supernets: train one (SPOS), estimate architectures with it")
    supernet = supernet.add_subparsers(dest="supernet", required=True, parser_class=_Parser)
    p = supernet.add_parser("train", help="train a supernet by single-path one-shot (resumable)")
    p.add_argument("--like", help="a table from `surrogate generate` (or a shipped name): take its space, dataset "
                   "and protocol (subset, resolution, C, N, batch size); explicit flags override it")
    _add_space_and_data(p, required=False)
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default: 100)")
    _add_network_size(p, defaults=False)
    p.add_argument("--batch-size", type=int, help="batch size (default: --like's, else 256)")
    p.add_argument("--lr", type=float, default=0.05, help="peak learning rate, cosine to 0 (default: 0.05)")
    p.add_argument("--paths-per-step", type=int, default=1, help="architectures trained on each batch (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and of the path draws (default: 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--out", required=True, help="checkpoint file (rewritten after every epoch; rerun to resume)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_supernet_train)

    p = supernet.add_parser("estimate", help="write the supernet's estimate of every architecture of a tabular file into it")
    p.add_argument("supernet", help="checkpoint from `surrogate supernet train`")
    p.add_argument("--into", required=True, help="tabular .h5 file of the same space (rewritten atomically, under "
                   "its lock FILE.lock); a file path: shipped tables are read-only")
    p.add_argument("--column", default="supernet_acc", help="accuracy column to write (default: supernet_acc; "
                   "the validation loss goes to the matching _loss column)")
    p.add_argument("--overwrite", action="store_true", help="replace estimates this command wrote into --column before")
    p.add_argument("--calib-batches", type=int, default=4, help="training batches to recalibrate BatchNorm (default: 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration batches (default: 0)")
    p.add_argument("--data-dir", help="folder holding the dataset files (fashion-mnist, cifar10)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_supernet_estimate)

    p = sub.add_parser("proxies", help="write zero-cost proxies (zc_<name> columns) into a tabular file (resumable)")
    p.add_argument("file", help="tabular .h5 file (rewritten atomically, under its lock FILE.lock; its journal, "
                   "shared by concurrent runs, is FILE.proxies/); a file path: shipped tables are read-only")
    p.add_argument("--proxies", default="synflow,nwot,jacov,snip,grad_norm,fisher",
                   help="comma-separated: synflow, nwot, jacov, snip, grad_norm, fisher (default: all)")
    p.add_argument("--dataset", default="random",
                   help="random (Gaussian inputs, random labels: data-free), digits, fashion-mnist or cifar10 "
                   "(default: random)")
    p.add_argument("--data-dir", help="folder holding the dataset files (fashion-mnist, cifar10)")
    p.add_argument("--batch-size", type=int, help="inputs per batch; nwot sees all of them (default: 64)")
    p.add_argument("--grad-batch", type=int, help="the first K inputs, for the gradient proxies jacov, snip, "
                   "grad_norm, fisher (default: 8, or the batch size when smaller)")
    p.add_argument("--channels", type=int, help="network width C (default: the table's training config, else 16)")
    p.add_argument("--cells", type=int, help="cells per stage N (default: the table's training config, else 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and of the batch (default: 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default: 1)")
    p.add_argument("--overwrite", action="store_true", help="replace existing zc_ columns")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_proxies)

    p = sub.add_parser("latency", help="a latency lookup table of a space's networks on a device (one entry per "
                       "decision's choice), checked against architectures timed whole")
    p.add_argument("--space", help="space spec (networks at NB201's CIFAR-10 settings unless given below)")
    p.add_argument("--like", help="a table (or a shipped name): its space and the network settings it was trained with")
    p.add_argument("--channels", type=int, help="network width C (default: --like's, else 16)")
    p.add_argument("--cells", type=int, help="cells per stage N (default: --like's, else 5)")
    p.add_argument("--num-classes", type=int, help="classes of the head (default: --like's, else 10)")
    p.add_argument("--input-shape", help="C,H,W of one input (default: --like's, else 3,32,32)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    p.add_argument("--batch", type=int, default=1, help="inputs per forward pass (default: 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads while timing (default: 1)")
    p.add_argument("--repeats", type=int, default=30, help="timed rounds; each entry is their median (default: 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default: 5)")
    p.add_argument("--check", type=int, default=20, help="random architectures timed whole against the table's sum "
                   "(default: 20; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the checked architectures (default: 0)")
    p.add_argument("--into", help="a table file of the space: write each architecture's predicted latency into it as "
                   "column latency_ms, which search reads as exact (--objectives ...,latency_ms:min, --constraint "
                   "'latency_ms<=X'); alone, also --like")
    p.add_argument("--out", default="runs/latency/table.json", help="output JSON (default: runs/latency/table.json)")
    p.add_argument("--json", action="store_true", help="print the JSON document to stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_latency)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", required=True, parser_class=_Parser)
    p = bench.add_parser("predictors", help="rank correlation of predictors x encodings x training-set sizes")
    p.add_argument("file", help=_TABLE_FILE)
    p.add_argument("--metric", required=True, help="metric to predict, e.g. cifar10_valid_acc")
    p.add_argument("--models",
                   help="gp, rf, svr, mlp, gbt, ensemble (the five, stacked), cgp (the categorical GP) and supernet "
                        f"(the --supernet-column estimate, zero-shot) (default: {DEFAULT_MODELS}; with the default "
                        "encodings on a space of plain choices also cgp on the index encoding)")
    p.add_argument("--encodings", help="default: onehot,adjacency,path,graf where the space has them")
    p.add_argument("--train-sizes", default="20,50,100,200,400",
                   help="training-set sizes, nested per seed (default: 20,50,100,200,400)")
    p.add_argument("--test-size", type=int, default=1000,
                   help="held-out architectures, isomorphism-disjoint from training (default: 1000)")
    p.add_argument("--seeds", type=int, default=5, help="splits and model seeds 0..N-1 (default: 5)")
    p.add_argument("--features", help="extra input columns: metrics of the file (e.g. supernet_acc), computed "
                   "params,flops, or zc (every zero-cost proxy column); none for none (default: zc when the table "
                   "has zc_ columns or the shipped cache holds them)")
    p.add_argument("--supernet-column", default="supernet_acc", help="column the supernet model reads (default: supernet_acc)")
    p.add_argument("--out", default="runs/bench-predictors", help="output folder (default: runs/bench-predictors)")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=_cmd_bench_predictors)
    return parser


class _Terminated(Exception):
    """SIGTERM, raised where the process is, so cleanups run (workers stop, nothing half-written)."""


def _terminate(signum, frame) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    parser = build_parser()
    if not (sys.argv[1:] if argv is None else list(argv)):
        parser.print_usage(sys.stderr)
        print("surrogate: error: a command is required (surrogate --help lists them)", file=sys.stderr)
        return 2
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        args = parser.parse_args(argv)
        args.command_line = command_line(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except _Terminated:
        print("surrogate: terminated", file=sys.stderr)
        return 143
    except UsageError as err:
        print(f"surrogate: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("surrogate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout piped into `head` and the like, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
