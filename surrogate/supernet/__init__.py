"""Weight sharing: one supernet holds every architecture of a space.

* `network`: the supernets (NB201 cell, categorical chains), single-path and relaxed forward passes,
  weight inheritance into stand-alone networks;
* `spos`: single-path one-shot training and the checkpoint file (`surrogate supernet train`);
* `estimate`: BatchNorm recalibration and per-architecture estimates written as a tabular column
  (`surrogate supernet estimate`), which `bench predictors` uses as a model or a feature;
* `enas`, `darts`: the weight-sharing search strategies, and `search`, which runs them in a
  `surrogate search` campaign and judges their picks on a tabular benchmark.
"""
