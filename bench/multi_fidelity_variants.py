"""Variants of the default multi-fidelity strategy, simulated on a shipped table: BO fitted on the
highest rung holding --init results (BOHB's rule, the default) or on every result with the
fidelity as an input column (MOBSTER/DyHPO's joint model, `model_on="all"`), --min-epochs 1
or 2, and the learning-curve rule ranking partial trainings (`rank_by`: "value", the default,
"sotl" or "auto"). A variant is strategy:model_on:min_epochs[:rank_by]. Budget: 100 whole
trainings' seconds, as bench/multi_fidelity.sh. Prints one line per
variant: the regret at 10/25/50/100 % of the budget, mean ± std over seeds 0..S-1, and the test_acc
of each run's pick (its best whole training by valid_acc).

    python bench/multi_fidelity_variants.py nb201-fmnist 10 asha-bo:all:1,asha-bo:highest:2,asha:highest:1:value
"""

from __future__ import annotations

import sys

import numpy as np

from surrogate.catalog import resolve
from surrogate.search import MULTI_FIDELITY
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.search.report import BUDGET_FRACTIONS, regret_at_fraction
from surrogate.tabular import Table


def _test_of_pick(oracle: TableOracle, run) -> float:
    """test_acc (the table's, by the rule for isomorphs) of the run's best whole training by valid_acc:
    what the search delivers, free of the validation noise that regret on valid_acc also rewards."""
    full = run[run.epochs == oracle.max_epochs("valid_acc")]
    pick = full.arch.iloc[int(np.nanargmax(full.value.to_numpy()))]
    return float(oracle.lookup("test_acc", oracle.space.parse_many([pick]))[0])


def main(name: str, seeds: int, variants: list[str]) -> None:
    oracle = TableOracle(Table.read(resolve(name)), ["valid_acc"], "epoch_seconds")
    budget = 100 * float(np.nanmean(oracle.seconds))
    plain = Campaign.params_for
    for variant in variants:
        strategy, model_on, min_epochs, *rank_by = variant.split(":")

        def params_for(self, n, o, p, model_on=model_on, rank_by=rank_by):
            params = plain(self, n, o, p)
            params = {**params, "model_on": model_on} if n in ("asha-bo", "bohb") else params
            return {**params, "rank_by": rank_by[0]} if rank_by and n in MULTI_FIDELITY and n != "tpe-hb" else params

        Campaign.params_for = params_for
        campaign = Campaign(["valid_acc:max"], strategies=[strategy], budget=None, budget_seconds=budget, seeds=seeds,
                            fidelity={"min_epochs": int(min_epochs), "eta": 3})
        runs = campaign.run(oracle, progress=False)[0].groupby("seed")
        regret = {f: [regret_at_fraction(r, float(f), len(r), budget) for _, r in runs] for f in BUDGET_FRACTIONS}
        picks = [_test_of_pick(oracle, r) for _, r in runs]
        print(name, variant, seeds, "seeds:", ", ".join(f"{float(f):.0%} {np.mean(v):.3f} ± {np.std(v):.3f}"
                                                       for f, v in regret.items()),
              f"| test_acc of the pick {np.mean(picks):.3f} ± {np.std(picks):.3f}", flush=True)
    Campaign.params_for = plain


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","))
