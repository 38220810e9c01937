"""One-hot per decision: the encoding every space has."""

from __future__ import annotations

import numpy as np

from surrogate.encodings.base import Encoding
from surrogate.spaces import Space


class OneHot(Encoding):
    name = "onehot"

    def __init__(self, space: Space):
        super().__init__(space)
        k = space.num_choices
        self._offsets = np.concatenate([[0], np.cumsum(k)[:-1]])
        self.names = [f"{i}={c}" for i, names in enumerate(space.choices) for c in names]

    def encode(self, archs: np.ndarray) -> np.ndarray:
        out = np.zeros((len(archs), self.dim), dtype=np.float64)
        np.put_along_axis(out, archs + self._offsets, 1.0, axis=1)
        return out
