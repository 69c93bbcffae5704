"""espb: earthquake spatiotemporal progressive b-values.

An experiment framework for the method of Koehler et al., "Detecting Spatiotemporal b-Value
Anomalies with a Progressive Deep Learning Architecture". Layers, in one direction:
``espb.catalog`` -> ``espb.bvalue`` -> ``espb.samples`` -> ``espb.models`` -> ``espb.training``
-> ``espb.evaluation``; ``espb.cli`` only wires them together.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("espb")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
