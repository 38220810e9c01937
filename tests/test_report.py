"""The report of a campaign: summaries over hand-made runs, the JSON shape for one objective and
several, the steps reported, the Pareto rows."""

import numpy as np
import pandas as pd
import pytest

from surrogate.search import pareto
from surrogate.search.campaign import Campaign
from surrogate.search.oracle import TableOracle
from surrogate.search.report import (TRUE_FRONT, found_front, json_document, markdown_summary, pareto_frame,
                                     report_steps, result_fields, summarize, top_picks)
from surrogate.spaces import get_space
from surrogate.tabular import Table

ACC, PARAMS = [70.0, 80, 60, 75, 62], [1.0, 3, 2, 2, 1.5]  # front (max acc, min params): archs 0, 3, 1
SPACE = get_space("categorical:5")


def oracle() -> TableOracle:
    archs = SPACE.enumerate()
    table = Table(SPACE.spec, archs, SPACE.format_many(archs), {"acc": np.array(ACC), "params": np.array(PARAMS)})
    return TableOracle(table, ["acc", "params"])


def trajectories(asked: dict[int, list[int]]):
    """Hand-made runs of strategy "x" on a five-architecture table: seed -> the archs asked, in order."""
    campaign = Campaign(["acc:max", "params:min"], strategies=["rs"], budget=4, seeds=len(asked))
    problem, truth = campaign.validate(oracle())
    frames = []
    for seed, order in asked.items():
        Y = np.column_stack([np.array(ACC)[order], -np.array(PARAMS)[order]])
        frames.append(pd.DataFrame({"strategy": "x", "seed": seed, "step": np.arange(1, len(order) + 1),
                                    "arch": SPACE.format_many(SPACE.enumerate()[order]), "acc": np.array(ACC)[order],
                                    "params": np.array(PARAMS)[order], "feasible": True,
                                    "hypervolume_ratio": pareto.hypervolume_trace(Y, truth.ref) / truth.hypervolume,
                                    "simulated_seconds": np.nan, "seconds_per_query": 0.5}))
    return pd.concat(frames, ignore_index=True), truth, campaign


def test_report_steps_are_the_steps_that_exist():
    assert report_steps(150) == [50, 75, 100, 150] and report_steps(120) == [50, 60, 100, 120]
    assert report_steps(3) == [1, 3] and report_steps(1) == [1]


def test_summary_means_over_seeds_and_fronts_found():
    runs, truth, campaign = trajectories({0: [0, 2, 3, 1], 1: [4, 0, 0, 3]})  # seed 1 never finds arch 1
    front = found_front(runs[runs.seed == 1], truth)
    assert front.acc.tolist() == [70, 75]  # arch 4 dominated, the repeated arch 0 counted once
    (result,) = summarize(runs, truth, campaign.budget)
    assert result["seeds"] == 2 and result["found_front_fraction"] == pytest.approx((1 + 2 / 3) / 2)
    seed0 = runs[runs.seed == 0].hypervolume_ratio.iloc[-1]
    seed1 = runs[runs.seed == 1].hypervolume_ratio.iloc[-1]
    assert seed0 == pytest.approx(1.0) and result["hypervolume_ratio_at"]["4"] == pytest.approx((seed0 + seed1) / 2)
    assert set(result["hypervolume_ratio_at"]) == {"2", "4"}  # only steps that exist (issue 26, item 16)
    doc = json_document(truth, [result])
    assert tuple(doc["results"][0]) == result_fields(2) and doc["true_front_size"] == 3
    assert set(doc) == {"metric", "objectives", "constraints", "optimum", "ref_point", "true_front_size", "results"}
    assert doc["metric"] is None and doc["optimum"] is None and doc["ref_point"] == pytest.approx([69, 3.2])
    assert "| x | 2 |" in markdown_summary([result], truth, campaign.budget)


def test_one_objective_has_the_same_document_shape():
    campaign = Campaign(["acc:max"], strategies=["rs"], budget=5, seeds=1)
    problem, truth = campaign.validate(TableOracle(oracle().table, ["acc"]))
    frame = pd.DataFrame({"strategy": "rs", "seed": 0, "step": [1, 2], "arch": ["0", "1"], "value": [70.0, 80.0],
                          "best_so_far": [70.0, 80.0], "regret": [10.0, 0.0], "simulated_seconds": np.nan,
                          "seconds_per_query": 0.1})
    (result,) = summarize(frame, truth, 2)
    doc = json_document(truth, [result])
    assert set(doc) == {"metric", "objectives", "constraints", "optimum", "ref_point", "true_front_size", "results"}
    assert doc["metric"] == "acc" and doc["optimum"] == 80 and doc["objectives"] == ["acc:max"]
    assert tuple(doc["results"][0]) == result_fields(1)
    assert result["found_optimum"] == 1 and result["median_queries_to_optimum"] == 2
    assert result["regret_at"] == {"1": 10.0, "2": 0.0} and result["train_seconds"] is None


def test_top_picks_follow_the_direction_and_feasibility():
    problem = oracle().problem(["acc:min"], ["params<=2"])
    run = pd.DataFrame({"step": [1, 2, 3, 4], "acc": [70.0, 60.0, 50.0, np.nan], "params": [1.0, 2.0, 3.0, 1.0]})
    assert top_picks(run, 3, problem).acc.tolist()[:2] == [60.0, 70.0]  # 50 is infeasible, NaN failed


def test_pareto_frame_lists_each_run_front_then_the_true_one():
    runs, truth, _ = trajectories({0: [0, 2, 3, 1], 1: [4, 0, 0, 3]})
    rows = pareto_frame(runs, truth, oracle())
    true = rows[rows.strategy == TRUE_FRONT]
    assert sorted(zip(true.acc, true.params)) == [(70, 1), (75, 2), (80, 3)] and true.seed.isna().all()
    assert len(rows[rows.seed == 0]) == 3 and len(rows[rows.seed == 1]) == 2


def test_hypervolume_figure_shows_every_query(tmp_path, monkeypatch):
    """Issue 26, item 22: the y axis starts below the lowest quartile, early queries included."""
    import surrogate.search.report as report

    ratio = np.linspace(0.1, 1.0, 30)  # a long run that starts low
    runs = pd.DataFrame({"strategy": "x", "seed": np.repeat([0, 1], 30), "step": np.tile(np.arange(1, 31), 2),
                         "hypervolume_ratio": np.tile(ratio, 2)})
    shown = {}
    monkeypatch.setattr(report, "save_figure", lambda fig, path: shown.update(ylim=fig.axes[0].get_ylim()))
    report.plot_hypervolume(runs, tmp_path / "hv.png", "x")
    assert shown["ylim"][0] <= runs.hypervolume_ratio.min() and shown["ylim"][1] >= 1.0
