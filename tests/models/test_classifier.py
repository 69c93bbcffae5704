"""The CNN-TCN classifier of paper Section 3.2: the paper's parameter count (8081), shapes, a
receptive field that spans the whole 512-day x 32 x 32 block, layout validation, eval-mode
determinism and batch independence, and BatchNorm in training mode."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from espb.models.classifier import PAPER_LAYOUT, CnnTcn, describe, layout_for, n_parameters
from espb.training.module import BlockClassifier


def _block(b: int, lookback: int, patch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, lookback, patch, patch, generator=g)


def _model(lookback: int, patch: int, seed: int = 0, **kw) -> CnnTcn:
    torch.manual_seed(seed)
    return CnnTcn(lookback, patch, **kw)


# ------------------------------------------------------------------------------ the paper model


@pytest.fixture(scope="module")
def paper_model() -> CnnTcn:
    return _model(512, 32).eval()


def test_paper_model_has_8081_trainable_parameters(paper_model):
    assert paper_model.layout == PAPER_LAYOUT == "SSTTTSTTTSTSTT"
    assert n_parameters(paper_model) == 8081
    # the count by hand: spatial 1->2->4->8->16->32 (2x2 kernels), temporal c*c*2 + BN 2c, head 33
    spatial = sum(4 * c * 2 * c for c in (1, 2, 4, 8, 16))
    temporal = sum(2 * c * c + 2 * c for c in (4, 4, 4, 8, 8, 8, 16, 32, 32))
    assert spatial + temporal + 33 == 8081
    # BatchNorm running statistics are buffers, not parameters
    assert sum(p.numel() for p in paper_model.parameters() if p.requires_grad) == 8081


def test_paper_model_layers_follow_section_3_2(paper_model):
    convs = [m for m in paper_model.features if isinstance(m, nn.Conv3d)]
    spatial = [m for m in convs if m.kernel_size == (1, 2, 2)]
    temporal = [m for m in convs if m.kernel_size == (2, 1, 1)]
    assert len(spatial) == 5 and len(temporal) == 9 and len(convs) == 14
    assert all(m.stride == (1, 2, 2) and m.out_channels == 2 * m.in_channels for m in spatial)
    assert [m.dilation[0] for m in temporal] == [2**n for n in range(9)]
    assert all(m.padding == (0, 0, 0) and m.stride == (1, 1, 1) for m in temporal)
    assert all(m.bias is None for m in convs)
    # every temporal conv is followed by LeakyReLU(0.1) and then BatchNorm
    feats = list(paper_model.features)
    for i, m in enumerate(feats):
        if isinstance(m, nn.Conv3d) and m.kernel_size == (2, 1, 1):
            assert isinstance(feats[i + 1], nn.LeakyReLU) and feats[i + 1].negative_slope == 0.1
            assert (
                isinstance(feats[i + 2], nn.BatchNorm3d)
                and feats[i + 2].num_features == m.out_channels
            )
    assert paper_model.channels == 32
    assert paper_model.head.in_features == 32 and paper_model.head.out_features == 1


def test_paper_model_maps_blocks_to_one_logit_each(paper_model):
    x = _block(2, 512, 32)
    with torch.no_grad():
        out = paper_model(x)
        out5 = paper_model(x.unsqueeze(1))  # (B, 1, L, P, P) is accepted too
        feat = paper_model.features(x.unsqueeze(1))
    assert out.shape == (2,) and torch.isfinite(out).all()
    torch.testing.assert_close(out5, out, rtol=0, atol=0)
    assert feat.shape == (2, 32, 1, 1, 1)  # time 512 -> 1, space 32 -> 1


def test_paper_model_rejects_a_block_of_the_wrong_length(paper_model):
    # the receptive field is exactly the lookback: 256 days cannot be reduced to one step
    with pytest.raises(RuntimeError):
        with torch.no_grad():
            paper_model(_block(2, 256, 32))


def test_describe_mentions_the_parameter_count(paper_model):
    text = describe(paper_model)
    assert "8081" in text and PAPER_LAYOUT in text
    assert re.search(r"total trainable parameters: 8081\b", text)
    rows = text.splitlines()
    # one row per layer, one for the head, one title, one total
    assert len(rows) == len(paper_model.features) + 3
    # per-layer counts in the table add up to the total
    per = [int(m.group(1)) for r in rows if (m := re.search(r"params (\d+)$", r))]
    assert sum(per) == 8081
    # the last feature row ends at (32, 1, 1, 1)
    assert "(32, 1, 1, 1)" in rows[-3]


# ------------------------------------------------------------------------------ receptive field


def _input_gradient(model: CnnTcn, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    x = x.clone().requires_grad_(True)
    model(x)[0].backward()
    return x.grad


def _assert_full_receptive_field(model: CnnTcn, lookback: int, patch: int) -> None:
    x = _block(2, lookback, patch, seed=1)
    g = _input_gradient(model, x)
    g0 = g[0].abs()
    # the first and the last day, and all four corner cells, on every day
    assert g0[0].sum() > 0 and g0[-1].sum() > 0
    for r, c in ((0, 0), (0, patch - 1), (patch - 1, 0), (patch - 1, patch - 1)):
        assert (g0[:, r, c] > 0).all(), (lookback, patch, r, c)
    # in fact every input cell-day reaches the score (each along exactly one path)
    assert (g0 > 0).all()
    # and nothing leaks between the samples of a batch in eval mode
    assert (g[1] == 0).all()


def test_receptive_field_spans_the_whole_paper_block(paper_model):
    _assert_full_receptive_field(paper_model, 512, 32)


@pytest.mark.parametrize("lookback,patch", [(64, 16), (64, 32), (128, 16), (128, 32)])
def test_receptive_field_spans_the_block_for_generic_layouts(lookback, patch):
    model = _model(lookback, patch)
    assert model.layout.count("S") == int(np.log2(patch))
    assert model.layout.count("T") == int(np.log2(lookback))
    _assert_full_receptive_field(model, lookback, patch)
    with torch.no_grad():
        assert model.features(_block(2, lookback, patch).unsqueeze(1)).shape == (2, patch, 1, 1, 1)


# ------------------------------------------------------------------------------ layout validation


@pytest.mark.parametrize(
    "lookback,patch,what",
    [
        (500, 32, "500"),
        (513, 32, "513"),
        (48, 32, "48"),
        (512, 30, "30"),
        (512, 24, "24"),
        (64, 3, "3"),
    ],
)
def test_layout_for_rejects_non_powers_of_two(lookback, patch, what):
    with pytest.raises(ValueError, match="powers of two") as exc:
        layout_for(lookback, patch)
    assert what in str(exc.value)
    with pytest.raises(ValueError):
        CnnTcn(lookback, patch)


@pytest.mark.parametrize(
    "layout",
    [
        "SSTTTSTTTSTST",  # one T short
        "SSTTTSTTTSTSTTT",  # one T too many
        "SSTTTSTTTSTTTT",  # one S short (4 S, 10 T)
        "SSSTTTSTTTSTSTT",  # one S too many
        "SSTTTSTTTSTSTX",  # a foreign letter (right length)
        "SSTTTSTTTSTSTt",  # lower case is not accepted
        "SSTTTSTTT STSTT",  # a space
        "",
    ],
)
def test_layout_for_rejects_wrong_layouts(layout):
    with pytest.raises(ValueError, match="layout") as exc:
        layout_for(512, 32, layout)
    msg = str(exc.value)
    assert "5 'S'" in msg and "9 'T'" in msg
    with pytest.raises(ValueError):
        CnnTcn(512, 32, layout=layout)


def test_layout_for_defaults_and_honours_a_valid_layout():
    assert layout_for(512, 32) == PAPER_LAYOUT
    assert layout_for(512, 32, PAPER_LAYOUT) == PAPER_LAYOUT
    other = "SSSSSTTTTTTTTT"
    assert layout_for(512, 32, other) == other
    m = CnnTcn(512, 32, layout=other)
    assert m.layout == other
    # all spatial first: the temporal stages run at 32 channels
    assert n_parameters(m) == sum(8 * c * c for c in (1, 2, 4, 8, 16)) + 9 * (2 * 32 * 32 + 64) + 33
    for lookback in (2, 16, 64, 128, 256, 1024):
        for patch in (2, 4, 16, 32, 64):
            lay = layout_for(lookback, patch)
            assert set(lay) <= {"S", "T"}
            assert lay.count("S") == int(np.log2(patch)) and lay.count("T") == int(
                np.log2(lookback)
            )


def test_conv_bias_option_adds_the_biases():
    assert n_parameters(CnnTcn(512, 32, conv_bias=True)) == 8081 + (2 + 4 + 8 + 16 + 32) + (
        3 * 4 + 3 * 8 + 16 + 2 * 32
    )


# ------------------------------------------------------------------------------ eval determinism


@pytest.mark.parametrize("lookback,patch", [(64, 16), (512, 32)])
def test_eval_mode_is_deterministic_and_batch_independent(lookback, patch):
    model = _model(lookback, patch, seed=3)
    # non-trivial BatchNorm statistics and affine parameters
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    x = _block(5 if lookback < 512 else 3, lookback, patch, seed=4)
    with torch.no_grad():
        full = model(x)
        again = model(x)
        alone = torch.stack([model(x[i : i + 1])[0] for i in range(len(x))])
        reversed_ = model(x.flip(0)).flip(0)
    torch.testing.assert_close(again, full, rtol=0, atol=0)
    torch.testing.assert_close(alone, full, rtol=0, atol=1e-6)
    torch.testing.assert_close(reversed_, full, rtol=0, atol=1e-6)
    assert full.unique().numel() == len(x)  # different blocks, different scores
    # BlockClassifier.score is the sigmoid of the logit
    mod = BlockClassifier(lookback, patch)
    mod.model = model
    torch.testing.assert_close(mod.score(x), torch.sigmoid(full), rtol=0, atol=1e-7)


# ------------------------------------------------------------------------------ BatchNorm training


def test_block_classifier_trains_with_a_batch_of_two():
    torch.manual_seed(0)
    mod = BlockClassifier(lookback=64, patch=16, loss="mae").train()
    bns = [m for m in mod.modules() if isinstance(m, nn.BatchNorm3d)]
    assert len(bns) == 6
    before = [m.running_mean.clone() for m in bns]
    x = _block(2, 64, 16, seed=5)
    y = torch.tensor([0.0, 1.0])
    w = torch.ones(2)
    loss = mod.training_step((x, y, w), 0)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in mod.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    # running statistics moved (training mode used batch statistics)
    assert all(int(m.num_batches_tracked) == 1 for m in bns)
    assert any(not torch.equal(b, m.running_mean) for b, m in zip(before, bns, strict=True))
    # train and eval modes differ (batch statistics vs running statistics)
    with torch.no_grad():
        z_train = mod(x)
        mod.eval()
        z_eval = mod(x)
    assert not torch.allclose(z_train, z_eval)
    opt = mod.configure_optimizers()
    assert isinstance(opt, torch.optim.Adam)
    assert opt.param_groups[0]["lr"] == 1e-4 and opt.param_groups[0]["weight_decay"] == 1e-5
