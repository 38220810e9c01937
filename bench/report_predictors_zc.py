"""Merge the runs of bench/predictors_zc.sh into bench/results/predictors_zc.md (stdout).
Sections whose runs are missing say so instead of failing."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from surrogate.benchmark import markdown_table, summarize
from surrogate.tabular import Table

#: the literature's Spearman on NB201 CIFAR-10 (200-epoch labels): Abdelfattah et al. 2021 (Table 2) and,
#: for nwot, Mellor et al. 2021 as quoted by issue 13
LITERATURE = {"synflow": "0.74", "nwot": "≈0.79", "jacov": "0.73", "snip": "0.58", "grad_norm": "0.58", "fisher": "0.36"}


def load(root: Path, name: str):
    path = root / name / "results.csv"
    if not path.exists():
        return None, None
    return summarize(pd.read_csv(path)), json.loads((root / name / "run.json").read_text())


def best_rows(summary: pd.DataFrame, n: int, label: str) -> list[str]:
    rows = summary[summary.train_size == n]
    out = []
    for encoding, group in rows.groupby("encoding", sort=False):
        r = group.loc[group.kendall_tau.idxmax()]
        out.append(f"| {label.format(encoding=encoding)} | {r.model} | {r.kendall_tau:.3f} ± {r.kendall_tau_std:.3f} | {r.spearman:.3f} |")
    return out


def proxy_spearman(table: Table, metric: str) -> dict[str, float]:
    y = table.metric(metric)
    out = {}
    for name in table.metrics:
        if name.startswith("zc_"):
            x = table.metric(name)
            ok = np.isfinite(x) & np.isfinite(y)
            out[name[3:]] = stats.spearmanr(x[ok], y[ok]).statistic
    return out


def section(root: Path, title: str, plain: str, with_zc: list[tuple[str, str]], n: int = 100) -> None:
    print(f"## {title}\n")
    a, run = load(root, plain)
    if a is None:
        print(f"(not run yet: {plain})\n")
        return
    print(f"Best model per feature set at n = {n} training cells (Kendall tau ± std over {len(run['seeds'])} seeds, "
          f"test size {run['test_size']}, isomorphism-disjoint):\n")
    print("| features | best model | Kendall tau | Spearman |\n|---|---|---|---|")
    lines = best_rows(a, n, "{encoding}")
    for name, label in with_zc:
        b, _ = load(root, name)
        lines += best_rows(b, n, "{encoding} + " + label) if b is not None else [f"| {label}: not run yet | | | |"]
    print("\n".join(lines) + "\n")
    print(f"<details><summary>every model and size</summary>\n\nCommand: `{run['command']}`\n")
    print(markdown_table(a) + "\n")
    for name, _ in with_zc:
        b, brun = load(root, name)
        if b is not None:
            print(f"Command: `{brun['command']}`\n")
            print(markdown_table(b) + "\n")
    print("</details>\n")


def best_tau(root: Path, name: str, encodings: list[str], n: int = 100) -> str:
    summary, run = load(root, name)
    if summary is None:
        return "not run yet"
    rows = summary[(summary.train_size == n) & summary.encoding.isin(encodings)]
    r = rows.loc[rows.kendall_tau.idxmax()]
    return f"{r.kendall_tau:.3f} ± {r.kendall_tau_std:.3f} ({r.model}/{r.encoding}, test {run['test_size']})"


def targets(root: Path) -> None:
    print("## The issue's targets: NB201 hp12, 100 training cells, best model per row, 5 seeds\n")
    print("| features | target | CIFAR-10 valid | CIFAR-100 valid |\n|---|---|---|---|")
    rows = [("today's best (path/onehot)", "≈ 0.64 / measure", "nb201-{m}", ["path", "onehot"]),
            ("`graf`", "≥ 0.67", "nb201-{m}", ["graf"]),
            ("`graf` + `zc` (random inputs), all 6,466 classes", "≥ 0.70", "nb201-{m}-zc", ["graf"]),
            ("*300-class sample:* `graf`", "", "sample-{m}", ["graf"]),
            ("*300-class sample:* `graf` + `zc` (random inputs)", "≥ 0.70", "sample-{m}-zc", ["graf"])]
    for label, target, name, encodings in rows:
        cells = [best_tau(root, name.format(m=m), encodings) for m in ("cifar10_valid_acc", "cifar100_valid_acc")]
        print(f"| {label} | {target} | {cells[0]} | {cells[1]} |")
    print("\nThe 300-class sample rows (an estimate made before the full cache existed) use the classes of the "
          "batch-size study (below): train 100, test 200 on those classes, the same splits for both rows, so their "
          "difference is what `zc` adds.\n")


def cache_status(root: Path) -> None:
    from surrogate.proxies import CACHE_FILES, cache_path

    print("## The NB201 proxy cache\n")
    for name in CACHE_FILES:
        path = cache_path(name)
        if path.is_file():
            with np.load(path) as npz:
                print(f"Shipped `surrogate/tables/{name}`: {len(npz['classes'])} of 6,466 classes, computed on "
                      f"{npz['computed_on'] if 'computed_on' in npz.files else 'the CPU'}, {path.stat().st_size / 1024:.0f} "
                      f"KiB; configuration `{npz['config']}`. How it was made, its timings and its agreement with "
                      "the CPU: `bench/results/proxies_gpu.md`.")
    journals = sorted((root / "nb201.h5.proxies").glob("*.jsonl"))
    if journals:
        lines = [json.loads(x) for x in journals[-1].read_text().splitlines() if x.strip().endswith("}")]
        timed = [x["seconds"] for x in lines if "seconds" in x]
        rate = np.mean(timed) if timed else float("nan")
        print(f"\nOn this machine's CPU (journal `{journals[-1]}`, {len(lines)} classes): {rate:.2f} CPU-seconds per "
              f"class (mean over the {len(timed)} classes whose CPU time the journal records; one torch thread), "
              f"so the whole space is about {rate * 6466 / 3600:.1f} CPU-hours.")
    print()


def main(root: Path) -> None:
    print("# Predictors with graph features (graf), zero-cost proxies (zc) and boosted trees (gbt)\n")
    print("Produced by `bench/predictors_zc.sh` on the 2-core CPU machine (`surrogate bench predictors`, "
          "models gp, rf, gbt; train sizes 50, 100, 200; 5 seeds; isomorphism-disjoint test sets). "
          "Targets are validation accuracies. `zc` means every `zc_` column written by `surrogate proxies` "
          "(six proxies, random Gaussian inputs unless said otherwise).\n")
    targets(root)
    cache_status(root)
    for metric in ("cifar10_valid_acc", "cifar100_valid_acc"):
        section(root, f"NB201 hp12: {metric}", f"nb201-{metric}", [(f"nb201-{metric}-zc", "zc")])
    for metric in ("cifar10_valid_acc", "cifar100_valid_acc"):
        section(root, f"NB201 hp12, the 300 classes of the proxy study (test 200): {metric}", f"sample-{metric}",
                [(f"sample-{metric}-zc", "zc")])
    if (root / "nb201.h5").exists():
        table = Table.read(root / "nb201.h5")
        if any(m.startswith("zc_") for m in table.metrics):
            print("### Each proxy alone: Spearman over all 15,625 NB201 cells\n")
            c10, c100 = proxy_spearman(table, "cifar10_valid_acc"), proxy_spearman(table, "cifar100_valid_acc")
            print("| proxy | CIFAR-10 valid (hp12) | CIFAR-100 valid (hp12) | literature, CIFAR-10 (200 epochs) |\n|---|---|---|---|")
            for p in c10:
                print(f"| {p} | {c10[p]:.3f} | {c100[p]:.3f} | {LITERATURE.get(p, '')} |")
            facts = table.attrs["proxies"]["zc_synflow"]
            print(f"\nConfiguration: `{json.dumps(facts['config'])}`.\n")
    section(root, "nb201-fmnist: valid_acc", "fmnist",
            [("fmnist-zc-random", "zc (random inputs)"), ("fmnist-zc-fmnist", "zc (Fashion-MNIST inputs)")])
    for inputs in ("random", "fashion-mnist"):
        path = root / f"fmnist-{inputs}.h5"
        if path.exists() and "zc_synflow" in Table.read(path).metrics:
            rho = proxy_spearman(Table.read(path), "valid_acc")
            print(f"Proxies alone on nb201-fmnist ({inputs} inputs), Spearman with valid_acc: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in rho.items()) + "\n")
    section(root, "Chain table (categorical:8x3 on digits, trained here): valid_acc", "chain", [("chain-zc", "zc")])
    study = sorted(Path("runs/proxies-study").glob("report_n*.md"))
    print("## Proxy batch size: Spearman and cost on a sample of NB201 classes\n")
    print("`bench/proxies_batch_study.py` (random inputs, C=16, N=5, seed 0; Spearman against the class's hp12 "
          "label). s/class is wall time per class on the shared 2-core machine (niced, other jobs running).\n")
    print(study[-1].read_text() if study else "(not run yet)\n")
    print("Choice (`surrogate proxies` defaults): nwot's Spearman keeps growing with its batch (+0.05 from 8 to 16, "
          "+0.055 from 16 to 64), so nwot sees the whole batch of 64 — a forward pass without gradients, its values "
          "identical to the batch-64 row; synflow is data-free; jacov, snip, grad_norm and fisher are within 0.02 "
          "of batch 64 already at 8 (largest gap: jacov on CIFAR-100, 0.019), so they see the batch's first 8 "
          "inputs (`--grad-batch 8`): the backward passes, the costly part, run on an eighth of the batch. Per "
          "class the default costs about 1.4 CPU-seconds on one core (the cache section above), a few CPU-hours for all "
          "6,466 NB201 classes.\n")
    print("Each proxy alone on this sample, against the literature's Spearman on NB201 CIFAR-10 with 200-epoch "
          "labels (hp12 labels are noisier, so every proxy ranks them worse): "
          + ", ".join(f"{p} {v}" for p, v in LITERATURE.items()) + ". The batch-64 rows above are this "
          "configuration's nwot and synflow; its jacov, snip, grad_norm and fisher are the batch-8 rows.\n")
    bo = root / "bo.jsonl"
    print("## BO defaults: found optimum (of 20 seeds) and median queries to it, budget 150\n")
    print("Each row: `OMP_NUM_THREADS=1 .venv/bin/python bench/bo_zc.py TABLE METRIC gp ENCODING [FEATURES] 20` "
          "(GP + LogEI, copula targets, init 10; seeds 0-19; `nb201` rows read `runs/zc/nb201.h5`, NB201 with its "
          "zc_ columns, except the graf-alone row, the shipped table before it had them).\n")
    if bo.exists() and bo.read_text().strip():
        print("| table | metric | model | encoding | features | found | median queries | regret@50 | s/query |\n"
              "|---|---|---|---|---|---|---|---|---|")
        for line in bo.read_text().splitlines():
            r = json.loads(line)
            print(f"| {Path(r['table']).stem} | {r['metric']} | {r['model']} | {r['encoding']} | {r['features'] or '-'} "
                  f"| {r['found']}/{r['seeds']} | {r['median_queries']:g} | {r['regret_at'].get('50', float('nan')):.3f} "
                  f"| {r['seconds_per_query']:.2f} |")
        print()
    if not bo.exists():
        print("(not run yet)\n")
    print(NOTES)


NOTES = """## Notes

- `gbt` is scikit-learn's HistGradientBoostingRegressor (8 members on bootstrap resamples; mean and
  spread). xgboost and lightgbm are not installed here and could not be installed (no network), so
  they were not measured; scikit-learn's histogram boosting is the LightGBM algorithm family.
- `graf` is computed on each architecture's canonical representative, so it is identical within every
  isomorphism class (tests/test_graf.py checks all 15,625 NB201 cells and a property test).
- nb201-fmnist's proxies were computed before the gradient batch was split off: all six at batch 64
  (`"grad_batch"` absent from their configuration; the table's `proxies` attribute records it).
- The chain table is NAS-Bench-Macro's space (`categorical:8x3`) trained here on digits (12 epochs,
  C=8); its generation was stopped at 295 of 400 architectures for time, so its test set is 150 and
  the largest training set 100. Its validation accuracies span 94-99% on 360 images: a noisy target.
- BO (`bench/bo_zc.py`, GP + LogEI, copula targets, init 10, 20 seeds x 150 queries; the table above).
  The references for `path` alone on NB201 are `bench/results/search_nb201.md`'s bo rows, the same
  campaign: CIFAR-10 19/20 found, median 39 queries; CIFAR-100 19/20, median 68.5. `graf` alone
  predicts better than `path` yet reaches the CIFAR-10 optimum later (median 49); `path` + zc does not
  gain (40). The proxies gain on every table measured: with `graf`, CIFAR-10 20/20 in a median 36,
  CIFAR-100 20/20 in 67.5, nb201-fmnist 19/20 in 68 (path alone: 14/20 in 123.5), the chain table
  20/20 in 36.5 (onehot alone: 20/20 in 55; onehot + zc: 20/20 in 26.5, so on chains the proxies are
  what helps, not graf). Hence `surrogate search`'s default: a table with `zc_` columns gives bo the
  proxies (`--features`), with `graf` on cell spaces; `nb201` ships its proxies. The product command
  itself, `surrogate search nb201 --metric cifar10_valid_acc --strategies bo --seeds 20 --budget 150`:
  20/20 found, median 36.5 queries (`bench/results/search_nb201_zc.md`).
- An earlier version of these rows (replaced) ran after `search` had gained its default features
  while `bench/bo_zc.py` still added the columns itself, so the nb201-fmnist and chain rows had
  the proxies twice, or where labelled "-", once; the script now passes `--features` explicitly.
"""


if __name__ == "__main__":
    main(Path(sys.argv[1]))
