"""Tiny seeded forecast data shared by the score tests."""

from __future__ import annotations

import numpy as np
import pytest

import espb.evaluation.forecast._arrays as arrays


def make_cube(seed: int = 0, t: int = 40, h: int = 8, w: int = 9, ties: bool = True):
    """A (t, h, w) probability cube with spatial structure, its 0/1 targets drawn from it, a
    spatial reference, the day index and an eligibility mask (border cells out)."""
    rng = np.random.default_rng(seed)
    base = rng.gamma(0.6, 0.03, (1, h, w))
    p = np.clip(base * rng.lognormal(0.0, 0.8, (t, h, w)), 1e-5, 0.95)
    if ties:
        p = np.round(p, 3).clip(1e-4, 0.95)  # many ties
    y = rng.random((t, h, w)) < p
    r = np.broadcast_to(np.clip(base, 1e-5, 0.95), p.shape).copy()
    day = np.broadcast_to(np.arange(t)[:, None, None], p.shape).copy()
    mask = np.zeros(p.shape, bool)
    mask[:, 1:-1, 1:-1] = True
    return p, y, r, day, mask


@pytest.fixture
def cube():
    return make_cube()


@pytest.fixture
def small_chunks(monkeypatch):
    """Force the streaming loops through many chunks (odd size, to cross tie blocks)."""
    monkeypatch.setattr(arrays, "CHUNK", 97)
