"""The determinism settings are applied: ``make_fabric`` calls ``configure_determinism`` for
its device (docs/performance.md, "Determinism on CUDA"); the CUDA settings are checked on a
CPU-only machine (they are plain flags and an environment variable)."""

from __future__ import annotations

import os

import pytest
import torch

import espb.training.loop as loop
from espb.models.determinism import configure_determinism
from espb.training.config import TrainConfig


@pytest.fixture
def cuda_flags():
    """The global flags configure_determinism sets, restored after the test (plain attributes
    of torch.backends modules that monkeypatch cannot undo)."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = (
        False,
        True,
        True,
        True,
    )
    yield
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = before


def test_configure_determinism_on_a_cuda_device_sets_the_workspace_and_the_flags(
    monkeypatch, cuda_flags
):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # recorded, so undone after the test
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    calls: list[bool] = []
    monkeypatch.setattr(torch, "use_deterministic_algorithms", calls.append)

    got = configure_determinism(torch.device("cuda"), True)

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert calls == [True]
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False
    assert torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert got["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert got["cudnn.deterministic"] is True and got["cudnn.benchmark"] is False


def test_configure_determinism_keeps_a_deterministic_workspace_already_set(monkeypatch, cuda_flags):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    monkeypatch.setattr(torch, "use_deterministic_algorithms", lambda on: None)
    configure_determinism(torch.device("cuda"), True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def _record(monkeypatch) -> list[tuple[torch.device, bool]]:
    got: list[tuple[torch.device, bool]] = []
    monkeypatch.setattr(loop, "configure_determinism", lambda dev, det: got.append((dev, det)))
    return got


def test_make_fabric_applies_determinism_for_its_device(monkeypatch):
    got = _record(monkeypatch)
    fabric = loop.make_fabric(TrainConfig(accelerator="cpu", deterministic=True))
    assert got == [(fabric.device, True)]
    assert fabric.device.type == "cpu"


def test_make_fabric_on_cpu_never_switches_deterministic_algorithms_off(monkeypatch):
    got = _record(monkeypatch)
    loop.make_fabric(TrainConfig(accelerator="cpu", deterministic=False))
    assert got == []  # as before: nothing is called on CPU with deterministic=False


def test_make_fabric_on_cuda_passes_the_flag_either_way(monkeypatch):
    class CudaFabric:  # stands for Fabric on a GPU (none here)
        device = torch.device("cuda", 0)

        def __init__(self, **kwargs: object) -> None:
            self.kwargs = kwargs

    def no_cpu_allocator() -> None:
        raise AssertionError("tune_allocator is for CPU runs")

    got = _record(monkeypatch)
    monkeypatch.setattr(loop, "Fabric", CudaFabric)
    monkeypatch.setattr(loop, "tune_allocator", no_cpu_allocator)
    for det in (True, False):
        fabric = loop.make_fabric(TrainConfig(accelerator="gpu", deterministic=det))
        assert fabric.kwargs["accelerator"] == "cuda"
    assert got == [(torch.device("cuda", 0), True), (torch.device("cuda", 0), False)]
