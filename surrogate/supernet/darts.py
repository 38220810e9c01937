"""First-order DARTS (Liu et al., 2019) on a supernet's continuous relaxation.

Every decision gets a vector of architecture logits alpha; the network runs the softmax(alpha)-
weighted sum of every choice. Each step first moves alpha down the validation loss (Adam, on a
validation batch; first order: the weights are taken as fixed), then the weights down the training
loss (SGD, on a training batch). The derived architecture is the argmax of every alpha, 'none'
included, as NAS-Bench-201 derives it.

NAS-Bench-201 reports that DARTS collapses on its cell to parameter-free skip connections. `beta`
turns on beta-DARTS' regularisation (Ye et al., 2022): a penalty beta * t/T * mean_i logsumexp(alpha_i),
ramped up over training, whose gradient softmax(alpha) pulls dominant logits back and keeps the
relaxation from saturating early. `beta=0` is plain DARTS.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from surrogate.spaces import get_space
from surrogate.supernet.spos import SharedWeights, SupernetConfig, endless_batches
from surrogate.train.data import Data


def darts_search(config: SupernetConfig, data: Data, arch_lr: float = 3e-4, arch_weight_decay: float = 1e-3,
                 beta: float = 0.0, progress: bool = True) -> dict:
    """Run DARTS; return the derived `arch`, the final `alphas` (list per decision), the derived
    architecture after every epoch (`arch_history`) and `seconds`. The supernet is in `supernet`."""
    from surrogate.train.trainer import resolve_device, seeded

    device = resolve_device(config.device)
    space = get_space(config.space)
    with seeded(config.seed):
        net = config.build(data)
        alphas = [(1e-3 * torch.randn(int(k))).to(device).requires_grad_() for k in space.num_choices]
    generator = torch.Generator(device=device).manual_seed(config.seed)
    trainer = SharedWeights(net, data, config.epochs, config.batch_size, config.lr, config.momentum,
                            config.weight_decay, device, generator)
    valid_batches = endless_batches(data, "valid", config.batch_size, generator, device)
    optimizer = torch.optim.Adam(alphas, lr=arch_lr, betas=(0.5, 0.999), weight_decay=arch_weight_decay)
    history: list[str] = []
    start = time.perf_counter()
    for epoch in tqdm(range(config.epochs), desc="darts", unit="epoch", disable=not progress, dynamic_ncols=True):
        for x, y in trainer.batches():
            xv, yv = next(valid_batches)
            net.train()
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = net(xv, weights=[a.softmax(-1) for a in alphas]).float()
            loss = F.cross_entropy(logits, yv)
            if beta:
                ramp = beta * trainer.step_count / max(trainer.total_steps, 1)
                loss = loss + ramp * torch.stack([a.logsumexp(-1) for a in alphas]).mean()
            loss.backward()
            optimizer.step()
            trainer.step(x, y, weights=[a.detach().softmax(-1) for a in alphas])
        history.append(space.format(derive(alphas)))
    return {"arch": derive(alphas), "alphas": [a.detach().cpu().softmax(-1).tolist() for a in alphas],
            "arch_history": history, "seconds": time.perf_counter() - start, "supernet": net}


def derive(alphas: list[torch.Tensor]) -> np.ndarray:
    """The argmax choice of every decision."""
    return np.array([int(a.detach().argmax()) for a in alphas], dtype=np.int64)
