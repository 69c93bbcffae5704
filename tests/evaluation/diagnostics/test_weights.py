"""Figure 7: the weight change of known state dicts, and the blocks of the real CnnTcn."""

from __future__ import annotations

import pytest
import torch

from espb.evaluation.diagnostics.weights import parameter_blocks, weight_changes
from espb.models.classifier import CnnTcn, n_parameters


def _state(v: float) -> dict[str, torch.Tensor]:
    """A CnnTcn-shaped state dict: S conv (0), T conv (1), LeakyReLU (2), BN (3), S conv (4),
    T conv (5), LeakyReLU (6), BN (7), Linear; every weight filled with ``v`` (BN running stats
    with 100 * v: buffers must not count)."""
    s = {}
    for i, n in ((0, 4), (1, 2), (4, 8), (5, 2)):
        s[f"model.features.{i}.weight"] = torch.full((n,), v)
    for i in (3, 7):
        s[f"model.features.{i}.weight"] = torch.full((2,), v)
        s[f"model.features.{i}.bias"] = torch.full((2,), v)
        s[f"model.features.{i}.running_mean"] = torch.full((2,), 100 * v)
        s[f"model.features.{i}.running_var"] = torch.full((2,), 100 * v)
        s[f"model.features.{i}.num_batches_tracked"] = torch.tensor(int(v))
    s["model.head.weight"] = torch.full((3,), v)
    s["model.head.bias"] = torch.full((1,), v)
    return s


def test_parameter_blocks_end_at_each_batchnorm():
    b = parameter_blocks(list(_state(0.0)))
    assert b["model.features.0.weight"] == "block 1"
    assert b["model.features.3.bias"] == "block 1"
    assert b["model.features.4.weight"] == "block 2"
    assert b["model.features.7.weight"] == "block 2"
    assert b["model.head.bias"] == "linear"
    assert not any(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in b)


def test_weight_change_of_two_known_state_dicts():
    d = weight_changes([_state(0.0), _state(0.5)], [3, 4]).set_index("block")
    # block 1: 4 + 2 + 2 + 2 = 10 parameters, block 2: 8 + 2 + 4 = 14, linear 4; each moved 0.5
    assert d.loc["block 1", "n_params"] == 10
    assert d.loc["block 2", "n_params"] == 14
    assert d.loc["linear", "n_params"] == 4
    assert d.loc["block 1", "change"] == pytest.approx(10 * 0.25)
    assert d.loc["block 2", "change"] == pytest.approx(14 * 0.25)
    assert d.loc["linear", "change"] == pytest.approx(4 * 0.25)
    assert d.loc["all", "change"] == pytest.approx(28 * 0.25)
    assert d.loc["block 2", "change_per_param"] == pytest.approx(0.25)
    assert (d["meta_epoch"] == 4).all()


def test_weight_change_one_tensor_moved():
    a, b = _state(1.0), _state(1.0)
    b["model.features.5.weight"] = torch.tensor([1.0, 4.0])  # (4 - 1)^2 = 9
    d = weight_changes([a, b]).set_index("block")["change"]
    assert d["block 2"] == 9.0 and d["block 1"] == 0.0 and d["linear"] == 0.0 and d["all"] == 9.0


def test_blocks_of_the_paper_classifier():
    m = CnnTcn(512, 32)
    sd = {f"model.{k}": v for k, v in m.state_dict().items()}
    blocks = parameter_blocks(list(sd))
    names = set(blocks.values())
    assert names == {f"block {i}" for i in range(1, 10)} | {"linear"}  # 9 temporal stages
    d = weight_changes([sd, sd])
    assert d.loc[d["block"] == "all", "n_params"].item() == n_parameters(m) == 8081
    assert d["change"].eq(0).all()


def test_fewer_than_two_snapshots_give_no_change():
    assert weight_changes([_state(0.0)]).empty
