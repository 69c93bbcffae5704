"""Rate forecasts per cell and period: counts, past-only features (lag and b-value), Poisson / NB
GLMs and EarthquakeNet (arXiv 2605.21437), walk-forward scores and pyCSEP tests (docs/rates.md).

A layer beside :mod:`espb.training`: it reads catalogs and b-value cubes and may use the training
layer's catalog loading and MLflow tracker; nothing below imports it.
"""
