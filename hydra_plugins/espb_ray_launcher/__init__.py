"""espb's Ray launcher for Hydra (Hydra loads launchers from the ``hydra_plugins`` package)."""
