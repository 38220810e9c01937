"""An ensemble of small MLPs (BANANAS-style); the members' disagreement is the uncertainty."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from surrogate.models.base import Predictor, model_threads


class MLPEnsemble(Predictor):
    """`n_members` MLPs (`hidden` units x `layers`, ReLU), each from its own seed, trained full-batch
    with Adam and weight decay on standardised inputs and targets. All members train at once as one
    batched network (torch.func-free: stacked weights and bmm), so an ensemble costs about one MLP."""

    def __init__(self, n_members: int = 5, hidden: int = 64, layers: int = 2, epochs: int = 300, lr: float = 0.01,
                 weight_decay: float = 1e-3, seed: int | None = None):
        self.n_members = n_members
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed

    def _init(self, d: int, generator: torch.Generator) -> list[nn.Parameter]:
        sizes = [d] + [self.hidden] * self.layers + [1]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            w = (torch.rand(self.n_members, fan_in, fan_out, generator=generator) * 2 - 1) * bound * np.sqrt(3)
            b = (torch.rand(self.n_members, 1, fan_out, generator=generator) * 2 - 1) * bound
            params += [nn.Parameter(w), nn.Parameter(b)]
        return params

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(self.n_members, *x.shape)
        for i in range(0, len(self.params_), 2):
            h = torch.baddbmm(self.params_[i + 1], h, self.params_[i])
            if i + 2 < len(self.params_):
                h = torch.relu(h)
        return h.squeeze(-1)  # (members, n)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MLPEnsemble":
        X, y = self._check_xy(X, y)
        self.x_mean_, x_std = X.mean(axis=0), X.std(axis=0)
        self.x_std_ = np.where(x_std > 0, x_std, 1.0)
        self.y_mean_ = float(y.mean())
        generator = torch.Generator().manual_seed(0 if self.seed is None else int(self.seed))
        self.params_ = self._init(X.shape[1], generator)
        x = torch.tensor((X - self.x_mean_) / self.x_std_, dtype=torch.float32)
        t = torch.tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        opt = torch.optim.Adam(self.params_, lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs)
        with model_threads(len(X)):
            for _ in range(self.epochs):
                opt.zero_grad()
                loss = ((self._forward(x) - t) ** 2).mean()
                loss.backward()
                opt.step()
                schedule.step()
        return self

    def members(self, X: np.ndarray) -> np.ndarray:
        """(members, n) predictions in target units, for Thompson sampling."""
        x = torch.tensor((np.asarray(X, dtype=np.float64) - self.x_mean_) / self.x_std_, dtype=torch.float32)
        with torch.no_grad():
            return self.y_mean_ + self.y_scale_ * self._forward(x).double().numpy()

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_member = self.members(X)
        return per_member.mean(axis=0), per_member.std(axis=0)
