"""The forecast layer (between training and evaluation): dense, time-forward forecast maps of a
finished run, their calibration, and the baselines scored on exactly the same cell-days."""
