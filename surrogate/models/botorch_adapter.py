"""Any predictor with `predict -> (mean, std)` as a BoTorch Model, so every BoTorch acquisition
function (LogEI, UCB, qLogEI with its MC sampler, ...) scores candidates with it."""

from __future__ import annotations

import numpy as np
import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator

from surrogate.models.base import JointPosterior, Predictor


class PredictorModel(Model):
    """Wraps a fitted predictor. A predictor with a BoTorch posterior of its own (the GP) keeps it,
    with its correlations across a q-batch; for any other, and for every q=1 query (where there is
    nothing to correlate), the posterior is independent normals with the predictor's mean and std.
    A predictor fitted on warped targets (`targets="copula"`) answers in y's units through
    `predict`, so its joint posterior (in the warped units) is not used: independent normals then.
    The q=1 shortcut matters: a GP asked for 6,466 one-point batches builds 6,466 (n+1)x(n+1)
    kernel matrices, 8x slower than one marginal prediction over all of them.

    Candidates are a finite set of encoded architectures, so the posterior need not be
    differentiable: acquisition values are computed for all candidates and the best taken.
    """

    def __init__(self, predictor: Predictor):
        super().__init__()
        self.predictor = predictor

    @property
    def num_outputs(self) -> int:
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])

    def posterior(self, X: torch.Tensor, output_indices=None, observation_noise=False, posterior_transform=None,
                  **kwargs) -> GPyTorchPosterior:
        joint = isinstance(self.predictor, JointPosterior) and getattr(self.predictor, "warp_", None) is None
        if joint and X.shape[-2] > 1:
            posterior = self.predictor.posterior(X)
            return posterior_transform(posterior) if posterior_transform is not None else posterior
        shape = X.shape[:-1]
        flat = X.detach().reshape(-1, X.shape[-1]).cpu().numpy().astype(np.float64)
        mean, std = self.predictor.predict(flat)
        mean_t = torch.as_tensor(mean, dtype=X.dtype, device=X.device).reshape(shape)
        var_t = torch.as_tensor(std**2, dtype=X.dtype, device=X.device).reshape(shape)
        posterior = GPyTorchPosterior(MultivariateNormal(mean_t, DiagLinearOperator(var_t)))
        return posterior_transform(posterior) if posterior_transform is not None else posterior
