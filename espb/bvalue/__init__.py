"""Layer 2: daily b-value cubes on a 0.1 deg grid (paper Section 2.1), cached as zarr v3.

from espb.bvalue import load_cube_config, get_cube
res = get_cube(events, load_cube_config("paper", ["dr=0.65", "dt=730"]))
ds = res.open()            # xarray Dataset: b, n_events, n_used over (time, lat, lon)
"""

from espb.bvalue.cache import CubeResult, cache_root, cube_key, get_cube, list_cubes, open_cube
from espb.bvalue.config import CubeConfig, load_cube_config
from espb.bvalue.cube import build_cube
from espb.bvalue.estimators import estimate_b

__all__ = [
    "CubeConfig",
    "CubeResult",
    "build_cube",
    "cache_root",
    "cube_key",
    "estimate_b",
    "get_cube",
    "list_cubes",
    "load_cube_config",
    "open_cube",
]
