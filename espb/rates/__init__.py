"""Rate forecasts per cell and period: counts, past-only features (lag and b-value), Poisson / NB
GLMs and EarthquakeNet (arXiv 2605.21437), walk-forward scores and pyCSEP tests (docs/rates.md).

A layer beside :mod:`espb.training` (neither imports the other): it reads catalogs
(espb.catalog.source) and b-value cubes, and logs through the shared base modules espb.tracking
and espb.progress; nothing below imports it.
"""
