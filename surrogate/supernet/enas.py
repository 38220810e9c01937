"""ENAS (Pham et al., 2018): an LSTM controller and a supernet trained in alternation.

Each epoch first trains the shared weights for one pass over the training split, every batch along
an architecture the controller samples; then the controller takes `controller_steps` REINFORCE
steps, each on `controller_batch` sampled architectures rewarded by their accuracy on one
validation batch with the shared weights (batch statistics in BatchNorm: the running statistics
belong to no single path), with a moving-average baseline and an entropy bonus.
The derived architecture is, as in ENAS, the best of `derive_samples` distinct architectures drawn
from the final controller, judged by their supernet estimate (recalibrated BatchNorm, whole
validation split).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from surrogate.search.reinforce import Controller
from surrogate.spaces import get_space
from surrogate.supernet.estimate import estimate
from surrogate.supernet.spos import SharedWeights, SupernetConfig, endless_batches
from surrogate.train.data import Data


def enas_search(config: SupernetConfig, data: Data, controller_lr: float = 3.5e-3, controller_steps: int = 20,
                controller_batch: int = 8, entropy_weight: float = 1e-3, baseline_decay: float = 0.95,
                derive_samples: int = 100, progress: bool = True) -> dict:
    """Run ENAS; return the derived `arch`, its supernet `estimate`, every distinct sample of the
    final controller best estimate first (`ranking`), the controller's mean reward per epoch
    (`reward_history`) and `seconds`. The supernet is in `supernet`."""
    from surrogate.train.trainer import resolve_device, seeded

    device = resolve_device(config.device)
    space = get_space(config.space)
    with seeded(config.seed):
        net = config.build(data)
        controller = Controller(space.num_choices)
    sampler = torch.Generator().manual_seed(config.seed)  # the controller lives on the CPU
    generator = torch.Generator(device=device).manual_seed(config.seed)
    trainer = SharedWeights(net, data, config.epochs, config.batch_size, config.lr, config.momentum,
                            config.weight_decay, device, generator)
    valid_batches = endless_batches(data, "valid", config.batch_size, generator, device)
    optimizer = torch.optim.Adam(controller.parameters(), lr=controller_lr)
    baseline: float | None = None
    rewards: list[float] = []
    start = time.perf_counter()
    for _ in tqdm(range(config.epochs), desc="enas", unit="epoch", disable=not progress, dynamic_ncols=True):
        for x, y in trainer.batches():
            with torch.no_grad():
                arch, _, _ = controller(n=1, generator=sampler)
            trainer.step(x, y, arch.numpy())
        epoch_rewards = []
        for _ in range(controller_steps):
            xv, yv = next(valid_batches)
            archs, log_prob, entropy = controller(n=controller_batch, generator=sampler)
            reward = torch.tensor([path_accuracy(net, a, xv, yv) for a in archs.numpy()])
            baseline = float(reward.mean()) if baseline is None else baseline
            loss = -((reward - baseline) * log_prob).mean() - entropy_weight * entropy.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            baseline = baseline_decay * baseline + (1 - baseline_decay) * float(reward.mean())
            epoch_rewards.append(float(reward.mean()))
        rewards.append(float(np.mean(epoch_rewards)))
    with torch.no_grad():
        drawn, _, _ = controller(n=derive_samples, generator=sampler)
    candidates = np.unique(drawn.numpy().astype(np.int64), axis=0)
    estimates = estimate(net, candidates, data, calib_batches=2, batch_size=config.batch_size, seed=config.seed,
                         device=device, progress=False)["acc"]
    order = np.argsort(-np.asarray(estimates), kind="stable")
    return {"arch": candidates[order[0]], "estimate": float(estimates[order[0]]), "ranking": candidates[order],
            "candidates": len(candidates), "reward_history": rewards, "seconds": time.perf_counter() - start,
            "supernet": net}


@torch.no_grad()
def path_accuracy(net, arch: np.ndarray, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy (fraction) of one path on one batch, BatchNorm on batch statistics."""
    net.train()
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
        logits = net(x, arch=arch)
    return float((logits.argmax(1) == y).float().mean())
