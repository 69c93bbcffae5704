"""espb sweep prepare fits autoencoders in processes of its own: on CUDA they get the same
deterministic settings as a run's make_fabric (docs/performance.md "Determinism on CUDA")."""

from __future__ import annotations

import types

import pytest
import torch
from omegaconf import OmegaConf

import espb.models.determinism as determinism
import espb.training.autoencoder as autoencoder
import espb.training.inputs as inputs
import espb.training.plan as plan
from espb.sweep.prepare import build_ae_task


class _Stop(Exception):
    pass


@pytest.mark.parametrize("cuda,expected", [(True, [("cuda", True)]), (False, [])])
def test_build_ae_task_applies_the_cuda_settings(monkeypatch, cuda, expected) -> None:
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    monkeypatch.setattr(
        determinism, "configure_determinism", lambda d, flag: calls.append((d.type, flag))
    )
    monkeypatch.setattr(plan, "plan_run", lambda cfg: types.SimpleNamespace())
    monkeypatch.setattr(inputs, "build_inputs", lambda p, rep: None)

    def stop(*a, **k):
        raise _Stop

    monkeypatch.setattr(autoencoder, "autoencoder_for", stop)
    with pytest.raises(_Stop):
        build_ae_task(OmegaConf.create({"training": {"deterministic": True}}))
    assert calls == expected
