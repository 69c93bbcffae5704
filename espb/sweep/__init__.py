"""Sweeps: the paper's 432-configuration factorial (Hydra multirun) and Optuna studies, their
MLflow parent runs, the loopback tracking server for parallel jobs, and the up-front build of
the shared cubes and autoencoders. Sits above ``espb.training`` and ``espb.evaluation``."""
