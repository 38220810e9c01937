"""An ensemble of small MLPs (BANANAS-style); the members' disagreement is the uncertainty."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from surrogate.models.base import Members, Predictor, model_threads, out_of_bag, spread_noise, standardise


class MLPEnsemble(Members, Predictor):
    """`n_members` MLPs (`hidden` units x `layers`, ReLU), each from its own seed, trained full-batch
    with Adam and weight decay on standardised inputs and targets. All members train at once as one
    batched network (torch.func-free: stacked weights and bmm), so an ensemble costs about one MLP.

    With `bootstrap=True` each member's loss weighs the points by a bootstrap resample's counts
    (bagging), and the std is the members' spread plus what it leaves out of their out-of-bag
    residuals (`out_of_bag_noise`): members that all see every point agree too well (90 %
    intervals held about 30 % of NB201's test cells, NLL in the hundreds or thousands)."""

    def __init__(self, n_members: int = 5, hidden: int = 64, layers: int = 2, epochs: int = 300, lr: float = 0.01,
                 weight_decay: float = 1e-3, bootstrap: bool = True, targets: str = "copula", seed: int | None = None):
        self.n_members = n_members
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.bootstrap = bootstrap
        self.targets = targets
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

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.x_mean_, x_std = X.mean(axis=0), X.std(axis=0)
        self.x_std_ = np.where(x_std > 0, x_std, 1.0)
        self.z_mean_, self.z_scale_ = standardise(y)
        generator = torch.Generator().manual_seed(0 if self.seed is None else int(self.seed))
        self.params_ = self._init(X.shape[1], generator)
        x = torch.tensor((X - self.x_mean_) / self.x_std_, dtype=torch.float32)
        t = torch.tensor((y - self.z_mean_) / self.z_scale_, dtype=torch.float32)
        counts = np.ones((self.n_members, len(X)))
        if self.bootstrap:
            rows = np.random.default_rng(self.seed).integers(0, len(X), (self.n_members, len(X)))
            counts = np.stack([np.bincount(r, minlength=len(X)) for r in rows]).astype(np.float64)
        weights = torch.tensor(counts / len(X), dtype=torch.float32)
        opt = torch.optim.Adam(self.params_, lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs)
        with model_threads(len(X)):
            for _ in range(self.epochs):
                opt.zero_grad()
                loss = (weights * (self._forward(x) - t) ** 2).sum(dim=1).mean()
                loss.backward()
                opt.step()
                schedule.step()
        members = self._members(X)
        self.oob_ = out_of_bag(members, counts > 0)
        self.noise_ = spread_noise(y, self.oob_, members) if self.bootstrap else 0.0

    def _members(self, X: np.ndarray) -> np.ndarray:
        x = torch.tensor((X - self.x_mean_) / self.x_std_, dtype=torch.float32)
        with torch.no_grad():
            return self.z_mean_ + self.z_scale_ * self._forward(x).double().numpy()

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_member = self._members(X)
        return per_member.mean(axis=0), np.sqrt(per_member.var(axis=0) + self.noise_)
