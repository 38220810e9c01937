import math

import numpy as np
import pytest
import torch
from torch import nn

from surrogate.errors import UsageError
from surrogate.nets import build_network
from surrogate.nets.costs import count
from surrogate.nets.rnn import RNNCellNetwork, cell_tree
from surrogate.spaces import get_space
from surrogate.train.data import load
from surrogate.train.language import TEXT_EPOCH_METRICS, evaluate_text, streams, text_costs, train_text
from surrogate.train.trainer import seeded

CELL = "tanh~0|relu~1|sigmoid~1|identity~2|tanh~0|relu~5|tanh~3|identity~6"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three small documents of a patterned text: learnable, so a few steps lower the bpc."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat. ", "dog ", "ran.\n"]
    for i, n in enumerate((6000, 1500, 1500)):
        (folder / f"doc{i}.txt").write_text("".join(rng.choice(words, n // 4)))
    return load(f"text:{folder}")


def _net(seed: int, data, hidden: int = 8) -> RNNCellNetwork:
    with seeded(seed):
        return build_network("rnn-cell:8", get_space("rnn-cell:8").parse(CELL), hidden, 1, data.num_classes,
                             data.input_shape[0])


class Uniform(nn.Module):
    """Predicts every character with the same logit: the bpc of any text is log2(V), exactly."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab

    def forward(self, tokens, state=None):
        return torch.zeros(*tokens.shape, self.vocab), torch.zeros(len(tokens), 1)


class Bigram(nn.Module):
    """Predicts the next character from the current one by a fixed table."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, tokens, state=None):
        return self.logits[tokens], torch.zeros(len(tokens), 1)


def test_bpc_of_a_uniform_model_is_log2_of_the_vocabulary():
    tokens = torch.randint(0, 5, (1000,))
    assert evaluate_text(Uniform(5), tokens, seq_len=7) / math.log(2) == pytest.approx(math.log2(5), rel=1e-6)


def test_bpc_of_a_known_bigram_model_on_a_tiny_text():
    # text "abab...": a model giving P(next = other letter) = 3/4 costs -log2(3/4) bits per character
    tokens = torch.tensor([0, 1] * 50)
    logits = torch.log(torch.tensor([[0.25, 0.75], [0.75, 0.25]]))
    loss = evaluate_text(Bigram(logits), tokens, seq_len=4, count=2)
    assert loss / math.log(2) == pytest.approx(-math.log2(0.75), rel=1e-6)


def test_streams_cut_a_text_into_equal_parallel_rows():
    rows = streams(torch.arange(10), 3)
    assert rows.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_learns_a_patterned_text_and_records_every_metric(corpus):
    record = train_text(_net(0, corpus, hidden=16), corpus, epochs=3, seed=0, batch_size=8, seq_len=16, lr=3e-2)
    assert set(record) == {*TEXT_EPOCH_METRICS, "diverged"} and record["diverged"].tolist() == [0.0]
    uniform = math.log2(corpus.num_classes)
    assert record["valid_bpc"][-1] < 0.8 * uniform and record["test_bpc"][-1] < 0.8 * uniform
    assert record["valid_bpc"][-1] == pytest.approx(record["valid_loss"][-1] / math.log(2))
    assert record["train_bpc"][-1] < record["train_bpc"][0] and (record["epoch_seconds"] > 0).all()


def test_deterministic_on_cpu_under_a_seed(corpus):
    def run(seed: int) -> dict:
        record = train_text(_net(seed, corpus), corpus, epochs=1, seed=seed, batch_size=8, seq_len=16, lr=1e-2)
        return {k: v for k, v in record.items() if k != "epoch_seconds"}

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    assert not np.array_equal(a["train_loss"], c["train_loss"])


def test_divergence_is_recorded_not_raised(corpus):
    net = _net(0, corpus)
    with torch.no_grad():
        net.decoder.weight.fill_(float("inf"))
    record = train_text(net, corpus, epochs=2, seed=0, batch_size=8, seq_len=16)
    assert record["diverged"].tolist() == [1.0] and np.isnan(record["valid_bpc"]).all()


def test_a_text_too_short_for_the_batch_is_refused(corpus):
    with pytest.raises(UsageError, match="too short"):
        train_text(_net(0, corpus), corpus, batch_size=10_000, seq_len=16)


def test_the_cell_runs_level_by_level_like_node_by_node():
    """The batched levels compute exactly the DARTS recurrence written node by node."""
    space = get_space("rnn-cell:8")
    for arch in space.sample(5, 1):
        with seeded(0):
            net = build_network(space.spec, arch, 6, 1, 11, 11)
        preds, acts = cell_tree(arch)
        cell = net.cell
        x = net.embedding(torch.randint(0, 11, (3, 4)))
        h = torch.zeros(3, 6)
        f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda v: v}
        for t in range(4):
            c, g = (cell.input_gate(x[:, t]) + cell.state_gate(h)).chunk(2, dim=-1)
            s = [h + torch.sigmoid(c) * (torch.tanh(g) - h)]
            for i, (p, act) in enumerate(zip(preds, acts)):
                c, g = (s[p] @ cell.node_weights[i]).chunk(2, dim=-1)
                s.append(s[p] + torch.sigmoid(c) * (f[act](g) - s[p]))
            leaves = [i for i in range(1, 9) if i not in preds]
            expected = torch.stack([s[i] for i in leaves]).mean(0)
            h = cell(cell.input_part(x[:, t]), h)
            torch.testing.assert_close(h, expected)


def test_costs_are_per_character_and_the_same_for_isomorphs():
    space = get_space("rnn-cell:8")
    arch = space.parse(CELL)
    net = build_network(space.spec, arch, 16, 1, 30, 30)
    params, flops = count(net, (30,))
    # node 0: two (16 -> 32) maps; 8 nodes: one (16 -> 32) map each; decoder 16 -> 30 (+ bias)
    assert flops == 2 * 16 * 32 + 8 * 16 * 32 + 16 * 30
    assert params == 30 * 16 + 2 * 16 * 32 + 8 * 16 * 32 + 16 * 30 + 30
    measured = text_costs(net, 30, seq_len=8)
    assert measured["params"] == params and measured["latency_b1_ms"] > 0 and measured["latency_b64_ms"] > 0
    with pytest.raises(UsageError, match="one vocabulary"):
        build_network(space.spec, arch, 16, 1, 10, 3)  # an image dataset
