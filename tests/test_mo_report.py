import numpy as np
import pandas as pd
import pytest

from surrogate import pareto
from surrogate.mo_campaign import MOCampaign
from surrogate.mo_report import (MO_JSON_FIELDS, TRUE_FRONT, found_front, json_document, markdown_summary,
                                 pareto_frame, report_steps, summarize)
from surrogate.spaces import get_space
from surrogate.tabular import Table

ACC, PARAMS = [70.0, 80, 60, 75, 62], [1.0, 3, 2, 2, 1.5]  # front (max acc, min params): archs 0, 3, 1


def trajectories(asked: dict[int, list[int]]):
    """Hand-made runs of strategy "x" on a five-architecture table: seed -> the archs asked, in order."""
    space = get_space("categorical:5")
    archs = space.enumerate()
    table = Table(space.spec, archs, space.format_many(archs), {"acc": np.array(ACC), "params": np.array(PARAMS)})
    campaign = MOCampaign(objectives="acc:max,params:min", strategies=["rs"], budget=4, seeds=len(asked))
    truth = campaign.validate(table)
    frames = []
    for seed, order in asked.items():
        Y = np.column_stack([np.array(ACC)[order], -np.array(PARAMS)[order]])
        frames.append(pd.DataFrame({"strategy": "x", "seed": seed, "step": np.arange(1, len(order) + 1),
                                    "arch": space.format_many(archs[order]), "acc": np.array(ACC)[order],
                                    "params": np.array(PARAMS)[order], "feasible": True,
                                    "hypervolume_ratio": pareto.hypervolume_trace(Y, truth.ref) / truth.hypervolume,
                                    "seconds_per_query": 0.5}))
    return pd.concat(frames, ignore_index=True), truth, campaign


def test_report_steps_add_the_budget():
    assert report_steps(150) == [50, 100, 150] and report_steps(120) == [50, 100, 120, 150]


def test_summary_means_over_seeds_and_fronts_found():
    runs, truth, campaign = trajectories({0: [0, 2, 3, 1], 1: [4, 0, 0, 3]})  # seed 1 never finds arch 1
    front = found_front(runs[runs.seed == 1], truth)
    assert front.acc.tolist() == [70, 75]  # arch 4 dominated, the repeated arch 0 counted once
    (result,) = summarize(runs, truth, campaign)
    assert result["seeds"] == 2 and result["found_front_fraction"] == pytest.approx((1 + 2 / 3) / 2)
    seed0 = runs[runs.seed == 0].hypervolume_ratio.iloc[-1]
    seed1 = runs[runs.seed == 1].hypervolume_ratio.iloc[-1]
    assert seed0 == pytest.approx(1.0) and result["hypervolume_ratio_at"]["4"] == pytest.approx((seed0 + seed1) / 2)
    assert result["hypervolume_ratio_at"]["50"] is None  # past the budget: no value, not a made-up one
    doc = json_document(truth, [result])
    assert list(doc["results"][0]) == list(MO_JSON_FIELDS) and doc["true_front_size"] == 3
    assert "| x | 2 |" in markdown_summary([result], truth, campaign.budget)


def test_pareto_frame_lists_each_run_front_then_the_true_one():
    runs, truth, _ = trajectories({0: [0, 2, 3, 1], 1: [4, 0, 0, 3]})
    rows = pareto_frame(runs, truth)
    true = rows[rows.strategy == TRUE_FRONT]
    assert sorted(zip(true.acc, true.params)) == [(70, 1), (75, 2), (80, 3)] and true.seed.isna().all()
    assert len(rows[rows.seed == 0]) == 3 and len(rows[rows.seed == 1]) == 2
