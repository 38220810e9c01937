"""The choice indices themselves, one column per decision: for models whose kernel compares choices
(the categorical GP's overlap kernel), which need no one-hot expansion."""

from __future__ import annotations

import numpy as np

from surrogate.encodings.base import Encoding
from surrogate.spaces import Space


class Index(Encoding):
    name = "index"

    def __init__(self, space: Space):
        super().__init__(space)
        self.names = list(space.decision_names)

    def encode(self, archs: np.ndarray) -> np.ndarray:
        return archs.astype(np.float64)
