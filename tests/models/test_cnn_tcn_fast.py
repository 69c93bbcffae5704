"""The fast CNN-TCN (espb.models.cnn_tcn_fast) against the reference Conv3d model (paper
Section 3.2): same parameters, same outputs and gradients, same BatchNorm statistics.

The oracle is the reference ``CnnTcn`` itself (torch's Conv3d / BatchNorm3d). In float64 the two
must agree to 1e-8 - the algebra is exact; in float32 to 1e-5 on well-conditioned problems, and
the fast model must be about as close to the float64 result as the float32 reference is (both
round differently, neither is the truth)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from espb.models.classifier import CnnTcn, describe, n_parameters
from espb.models.cnn_tcn_fast import FastCnnTcn, zorder_permutation

from ._equiv import blocks, calibrate_running_stats, grad_errors, labels, mae_grads, rel

# (lookback, patch, layout) - the paper's, the presets' generic ones, and extremes of order
LAYOUTS = [
    (512, 32, None),
    (64, 16, None),
    (128, 32, None),
    (128, 16, None),
    (64, 16, "TTTTTTSSSS"),
    (64, 16, "SSSSTTTTTT"),
    (64, 16, "STSTSTSTTT"),
    (16, 8, "TSTTSTS"),
]


def _pair(lookback, patch, layout=None, conv_bias=False, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    ref = CnnTcn(lookback, patch, layout, conv_bias=conv_bias).to(dtype)
    fast = FastCnnTcn(lookback, patch, layout, conv_bias=conv_bias).to(dtype)
    fast.load_state_dict(ref.state_dict())
    return ref, fast


def _batch(lookback):
    return 2 if lookback >= 512 else 6


# ------------------------------------------------------------------------------ structure


def test_zorder_groups_the_2x2_cells_of_every_level():
    for patch in (2, 4, 8, 32):
        perm = zorder_permutation(patch)
        assert sorted(perm.tolist()) == list(range(patch * patch))
        r, c = perm // patch, perm % patch
        size = 1
        while size < patch:  # every group of (2 size)^2 positions is one aligned square
            grp = 4 * size * size
            rr, cc = r.view(-1, grp), c.view(-1, grp)
            assert ((rr // (2 * size)) == (rr[:, :1] // (2 * size))).all()
            assert ((cc // (2 * size)) == (cc[:, :1] // (2 * size))).all()
            # and its four children in the order (di, dj) = (0,0), (0,1), (1,0), (1,1)
            q = (rr[:, :: size * size] // size % 2) * 2 + cc[:, :: size * size] // size % 2
            assert (q == torch.arange(4)).all()
            size *= 2
    with pytest.raises(ValueError):
        zorder_permutation(12)


@pytest.mark.parametrize("conv_bias", [False, True])
def test_same_parameters_and_state_dict_round_trip_both_ways(conv_bias):
    ref, fast = _pair(512, 32, conv_bias=conv_bias)
    assert [(n, p.shape) for n, p in ref.named_parameters()] == [
        (n, p.shape) for n, p in fast.named_parameters()
    ]
    assert list(ref.state_dict()) == list(fast.state_dict())  # buffers too, no extra keys
    assert n_parameters(fast) == n_parameters(ref) == (8081 if not conv_bias else 8081 + 178)
    assert "8081" in describe(FastCnnTcn(512, 32))
    x = blocks("randn", 2, 512, 32)
    # fast -> reference
    torch.manual_seed(5)
    f2 = FastCnnTcn(512, 32, conv_bias=conv_bias).eval()
    r2 = CnnTcn(512, 32, conv_bias=conv_bias)
    r2.load_state_dict(f2.state_dict(), strict=True)
    # reference -> fast
    f3 = FastCnnTcn(512, 32, conv_bias=conv_bias)
    f3.load_state_dict(r2.state_dict(), strict=True)
    r2.eval(), f3.eval()
    with torch.no_grad():
        a, b, c = f2(x), r2(x), f3(x)
    assert torch.equal(a, c)
    assert rel(a, b) < 1e-5


def test_rejects_blocks_of_the_wrong_shape_and_accepts_5d():
    _, fast = _pair(64, 16)
    fast.eval()
    for bad in ((2, 32, 16, 16), (2, 64, 8, 8), (2, 2, 64, 16, 16)):
        with pytest.raises(RuntimeError, match="does not match"):
            fast(torch.zeros(bad))
    x = blocks("randn", 2, 64, 16)
    with torch.no_grad():
        assert torch.equal(fast(x), fast(x.unsqueeze(1)))


def test_more_input_channels():
    torch.manual_seed(0)
    ref = CnnTcn(16, 4, in_channels=2).double()
    fast = FastCnnTcn(16, 4, in_channels=2).double()
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(4, 2, 16, 4, 4, dtype=torch.float64)
    yr, gr = mae_grads(ref, x, labels(4))
    yf, gf = mae_grads(fast, x, labels(4))
    assert rel(yf, yr) < 1e-12 and grad_errors(gf, gr)[1] < 1e-10


# ------------------------------------------------------------------------------ float64: exact


@pytest.mark.parametrize("lookback,patch,layout", LAYOUTS)
@pytest.mark.parametrize("conv_bias", [False, True])
def test_float64_outputs_and_gradients_equal_the_reference(lookback, patch, layout, conv_bias):
    ref, fast = _pair(lookback, patch, layout, conv_bias, torch.float64)
    b = _batch(lookback)
    for kind in ("randn", "bvalue", "residual"):
        x = blocks(kind, b, lookback, patch, dtype=torch.float64)
        for mode in ("train", "eval", "eval-calibrated"):
            if mode == "eval-calibrated":  # running statistics of the data, as after training
                calibrate_running_stats(ref, fast, x=x)
            ref.train(mode == "train"), fast.train(mode == "train")
            yr, gr = mae_grads(ref, x, labels(b))
            yf, gf = mae_grads(fast, x, labels(b))
            assert rel(yf, yr) < 1e-10, (kind, mode)
            total = float(torch.cat([g.flatten() for g in gr]).norm())
            for name, a, r in zip(dict(ref.named_parameters()), gf, gr, strict=True):
                # relative to the tensor, or to the whole gradient for (near-)zero tensors
                # (the uncalibrated eval mode of an untrained model is ill-conditioned: there
                # the bound is 1e-6)
                tol = 1e-6 if mode == "eval" else 1e-8
                floor = tol * max(float(r.norm()), 1e-3 * total)
                assert float((a - r).norm()) <= floor, (kind, mode, name)
        # the running statistics after the training and calibration passes
        for (n, a), (_, r) in zip(fast.state_dict().items(), ref.state_dict().items(), strict=True):
            assert torch.allclose(a.double(), r.double(), rtol=1e-10, atol=1e-14), n


# ------------------------------------------------------------------------------ float32


@pytest.mark.parametrize("lookback,patch", [(512, 32), (128, 32), (64, 16), (128, 16)])
@pytest.mark.parametrize("kind", ["randn", "residual"])
def test_float32_within_1e5_of_the_reference(lookback, patch, kind):
    """Outputs within 1e-5 relative of the float32 reference, and the whole gradient within
    1e-5 relative (per tensor: the largest difference within 3e-5 of the largest gradient),
    training mode and eval mode with the running statistics of the data (as after training).

    Two float32 implementations cannot agree more closely than either rounds: where the float32
    reference is itself further than 5e-6 from the float64 result, the bound is twice the
    reference's own distance to float64 instead. That happens in one case, residual blocks at
    512 x 32 x 32 in training mode, and only on some CPUs: on the Intel Xeon sandbox
    (2026-12-03) the reference is 1.8e-5 from float64 there, the fast model 2.6e-5, the two
    2.3e-5 apart; on the AMD EPYC sandbox (2026-12-02) all three were below 1e-5. Both models
    are exact in float64 (above)."""
    ref, fast = _pair(lookback, patch)
    r64 = CnnTcn(lookback, patch).double()
    r64.load_state_dict(ref.state_dict())
    b = 8  # BatchNorm over a few samples only is ill-conditioned in float32
    x = blocks(kind, b, lookback, patch, seed=1)
    for mode in ("train", "eval"):
        if mode == "eval":
            calibrate_running_stats(ref, fast, r64, x=x)
        for m in (ref, fast, r64):
            m.train(mode == "train")
        yr, gr = mae_grads(ref, x, labels(b))
        yf, gf = mae_grads(fast, x, labels(b))
        _, g64 = mae_grads(r64, x.double(), labels(b))
        assert rel(yf, yr) < 1e-5, mode
        whole, per = grad_errors(gf, gr)
        own, own_per = grad_errors(gr, g64)  # the float32 reference's own rounding
        whole_tol = 1e-5 if own <= 5e-6 else 2 * own
        per_tol = 3e-5 if own <= 5e-6 else max(3e-5, 2 * own_per)
        assert whole < whole_tol and per < per_tol, (mode, whole, per, own, own_per)


@pytest.mark.parametrize("lookback,patch", [(512, 32), (128, 32)])
def test_float32_bvalue_blocks_as_close_to_float64_as_the_reference(lookback, patch):
    """B-value-like blocks (mean ~1, spread 0.2), float32 against float64. Here neither float32
    model is within 1e-5 of the exact gradient: the first BatchNorm normalises channels whose
    mean is many times their spread, and a LeakyReLU input that rounds to the other side of 0
    switches that element's slope (1 <-> 0.1): one such element of 10^5 moves the gradient by
    ~1e-5. Measured distances to float64 (3 seeds): reference 1.5e-5 to 9.7e-5, fast 9e-6 to
    1.0e-4. Asserted: outputs within 1e-5, gradients within 2e-4, for both."""
    ref, fast = _pair(lookback, patch)
    r64 = CnnTcn(lookback, patch).double()
    r64.load_state_dict(ref.state_dict())
    x = blocks("bvalue", 8, lookback, patch, seed=1)
    y64, g64 = mae_grads(r64, x.double(), labels(8))
    for m in (ref, fast):
        y, g = mae_grads(m, x, labels(8))
        assert rel(y, y64) < 1e-5
        assert grad_errors(g, g64)[0] < 2e-4


#: cases where the fast model's float32 gradient error against float64 is more than 3x the
#: reference's on some CPU, and the factor allowed there. The all-temporal-first layout without
#: biases, random blocks, 2 threads: on the AMD EPYC sandbox (2026-12-02) fast 2.9e-5, reference
#: 5.5e-6 (5.2x); on the Intel Xeon sandbox (2026-12-03) fast 3.8e-7, reference 1.0e-5 (the
#: reference is the worse one). Which float32 model rounds better depends on the CPU's kernels.
_KNOWN = {(64, 16, "TTTTTTSSSS", False): 6.0}


def _f32_cases():
    for lookback, patch, layout in LAYOUTS[1:]:
        for conv_bias in (False, True):
            yield pytest.param(lookback, patch, layout, conv_bias)


@pytest.mark.parametrize("lookback,patch,layout,conv_bias", list(_f32_cases()))
def test_float32_as_close_to_float64_as_the_reference(lookback, patch, layout, conv_bias):
    """Every layout, biases on and off, random and residual blocks, training mode: the float32
    fast model's distance to the float64 result is within 3x the float32 reference's (or 1e-6;
    6x in the one case of :data:`_KNOWN`).

    With LeakyReLU's slope 1 here: with 0.1, an element whose input rounds to the other side of
    0 in one float32 model changes its slope, and one such element in 10^5 moves the gradient by
    1e-5 to 1e-2 (measured: conv_bias, residual blocks, 128 x 32); that compares luck, not
    rounding. The slope of 0.1 is tested exactly in float64 above."""
    torch.manual_seed(0)
    ref = CnnTcn(lookback, patch, layout, negative_slope=1.0, conv_bias=conv_bias)
    fast = FastCnnTcn(lookback, patch, layout, negative_slope=1.0, conv_bias=conv_bias)
    fast.load_state_dict(ref.state_dict())
    r64 = CnnTcn(lookback, patch, layout, negative_slope=1.0, conv_bias=conv_bias).double()
    r64.load_state_dict(ref.state_dict())
    b = _batch(lookback)
    for kind in ("randn", "residual"):
        x = blocks(kind, b, lookback, patch, seed=2)
        y64, g64 = mae_grads(r64, x.double(), labels(b))
        yr, gr = mae_grads(ref, x, labels(b))
        yf, gf = mae_grads(fast, x, labels(b))
        e_ref, e_fast = grad_errors(gr, g64)[0], grad_errors(gf, g64)[0]
        factor = _KNOWN.get((lookback, patch, layout, conv_bias), 3.0)
        assert e_fast <= factor * e_ref + 1e-6, (kind, e_fast, e_ref)
        assert rel(yf, y64) <= 3 * rel(yr, y64) + 1e-6, kind


# ------------------------------------------------------------------------------ BatchNorm + Adam


@pytest.mark.parametrize(
    "dtype,conv_bias,kind,momentum,tol",
    [
        (torch.float64, True, "bvalue", 0.1, 1e-10),
        (torch.float64, False, "residual", None, 1e-10),
        (torch.float32, False, "randn", 0.1, 2e-5),
    ],
)
def test_running_stats_and_weights_after_adam_steps_equal(dtype, conv_bias, kind, momentum, tol):
    """Four Adam steps on weighted MAE (paper Section 3.3), batches of 5 and 6: the weights, the
    BatchNorm running statistics (momentum 0.1, or the cumulative average of momentum=None) and
    ``num_batches_tracked`` of the two models agree, and so do their eval-mode outputs. Float64
    to 1e-10; float32 (Adam's first steps move each weight by ~lr whatever the gradient's size,
    so float32 rounding of a tiny gradient shows up at ~lr) to 2e-5."""
    ref, fast = _pair(128, 16, conv_bias=conv_bias, dtype=dtype)
    for m in (ref, fast):
        for bn in m.modules():
            if isinstance(bn, nn.BatchNorm3d):
                bn.momentum = momentum
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-5) for m in (ref, fast)]
    for step in range(4):
        x = blocks(kind, 5 + step % 2, 128, 16, seed=10 + step, dtype=dtype)
        w = torch.linspace(0.5, 1.5, len(x), dtype=dtype)
        for m, opt in zip((ref, fast), opts, strict=True):
            m.train()
            loss = ((torch.sigmoid(m(x)) - labels(len(x)).to(dtype)).abs() * w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (n, a), (_, r) in zip(fast.state_dict().items(), ref.state_dict().items(), strict=True):
        if n.endswith("num_batches_tracked"):
            assert int(a) == int(r) == 4, n
        else:
            assert rel(a, r) < tol, n
    x = blocks(kind, 4, 128, 16, seed=99, dtype=dtype)
    ref.eval(), fast.eval()
    with torch.no_grad():
        assert rel(fast(x), ref(x)) < max(tol, 1e-6)


def test_the_comparison_catches_a_wrong_implementation(monkeypatch):
    """The equivalence checks can fail: a row-major instead of a Z-order reorder, or a
    BatchNorm running variance without the unbiased correction, are caught."""
    import espb.models.cnn_tcn_fast as fast_mod

    ref, fast = _pair(64, 16, dtype=torch.float64)
    x = blocks("randn", 4, 64, 16, dtype=torch.float64)
    fast.zorder = torch.arange(256)  # wrong cell order
    ref.train(), fast.train()
    assert rel(mae_grads(fast, x, labels(4))[0], mae_grads(ref, x, labels(4))[0]) > 1e-3
    ref, fast = _pair(64, 16, dtype=torch.float64)
    real = fast_mod._bn_affine
    monkeypatch.setattr(
        fast_mod, "_bn_affine", lambda r, bi, m, v, n, t: real(r, bi, m, v, 10**12, t)
    )
    with torch.no_grad():
        ref(x), fast(x)
    bad = [
        rel(a, r)
        for (k, a), (_, r) in zip(fast.state_dict().items(), ref.state_dict().items(), strict=True)
        if k.endswith("running_var")
    ]
    assert max(bad) > 1e-3
