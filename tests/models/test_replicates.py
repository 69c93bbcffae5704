"""Fused replicates (espb.models.replicates) against separately trained copies: K = 3 seeds,
per-replicate MAE/BCE losses with per-sample weights, a few Adam steps (paper Section 3.3).
The oracle is the plain loop: each replicate trained on its own as a separate run would."""

from __future__ import annotations

import copy

import pytest
import torch

from espb.models.classifier import CnnTcn
from espb.models.cnn_tcn_fast import FastCnnTcn
from espb.models.replicates import StackedClassifier, replicate_losses

from ._equiv import blocks, labels, rel

SEEDS = (0, 1, 2)
KINDS = ("mae", "bce", "mae")


def _train_separately(models, kinds, batches, lr=1e-3):
    """Each model with its own Adam on its own loss: what K separate runs do."""
    out = []
    for m, kind in zip(models, kinds, strict=True):
        opt = torch.optim.Adam(m.parameters(), lr=lr, weight_decay=1e-5)
        logits, grads = [], []
        for x, y, w in batches:
            m.train()
            z = m(x)
            loss = replicate_losses(z[:, None], y, w, [kind])[0]
            opt.zero_grad()
            loss.backward()
            grads.append([p.grad.clone() for p in m.parameters()])
            opt.step()
            logits.append(z.detach())
        out.append((logits, grads))
    return out


def _train_stacked(stack, kinds, batches, lr=1e-3):
    opt = torch.optim.Adam(stack.parameters(), lr=lr, weight_decay=1e-5)
    logits, grads = [], []
    for x, y, w in batches:
        stack.train()
        z = stack(x)
        loss = replicate_losses(z, y, w, kinds).sum()
        opt.zero_grad()
        loss.backward()
        grads.append([[p.grad.clone() for p in r.parameters()] for r in stack.replicas])
        opt.step()
        logits.append(z.detach())
    return logits, grads


def _batches(lookback, patch, n=3, dtype=torch.float32):
    out = []
    for i in range(n):
        b = 5 + i % 2
        x = blocks("bvalue" if i % 2 else "randn", b, lookback, patch, seed=20 + i, dtype=dtype)
        out.append((x, labels(b).to(dtype), torch.linspace(0.4, 1.6, b, dtype=dtype)))
    return out


@pytest.mark.parametrize(
    "cls,method,dtype,tol",
    [
        (FastCnnTcn, "grouped", torch.float64, 1e-10),
        (CnnTcn, "vmap", torch.float64, 1e-10),
        (FastCnnTcn, "grouped", torch.float32, 1e-4),
        (CnnTcn, "vmap", torch.float32, 1e-4),
    ],
)
def test_stacked_replicates_train_like_separate_copies(cls, method, dtype, tol):
    """Outputs, gradients, the weights after each Adam step and the BatchNorm running statistics
    of every replicate equal those of its separately trained copy: float64 to 1e-10 (exact);
    float32 to 1e-4 (the stacked products round in another order; with b-value blocks, where
    float32 gradients are only ~1e-5 accurate anyway, and Adam's first steps of ~lr whatever a
    gradient's size, that shows up at 1e-5..1e-4)."""
    lookback, patch = 64, 16

    def build():
        return cls(lookback, patch, conv_bias=True).to(dtype)

    stack = StackedClassifier.from_seeds(build, SEEDS, method)
    separate = [copy.deepcopy(r) for r in stack.replicas]
    # from_seeds initialises replica k exactly as a run with seed k does
    torch.manual_seed(1)
    assert all(
        torch.equal(a, b)
        for a, b in zip(build().state_dict().values(), stack.unstack(1).values(), strict=True)
    )
    batches = _batches(lookback, patch, dtype=dtype)
    s_logits, s_grads = _train_stacked(stack, KINDS, batches)
    ref = _train_separately(separate, KINDS, batches)
    for k, (logits, grads) in enumerate(ref):
        for step in range(len(batches)):
            assert rel(s_logits[step][:, k], logits[step]) < tol, (k, step)
            total = float(torch.cat([g.flatten() for g in grads[step]]).norm())
            for a, b in zip(s_grads[step][k], grads[step], strict=True):
                # relative to the tensor, plus a share of the whole gradient for (near-)zero
                # tensors: in float32 a first-stage bias's gradient, ~1e-6 of the whole, is
                # rounding noise (~4e-5 apart between the reference's own vmap and loop)
                share = 1e-13 if dtype == torch.float64 else 5e-6
                floor = tol * float(b.norm()) + share * total
                assert float((a - b).norm()) <= floor, (k, step)
        # weights after the Adam steps, BatchNorm running statistics, num_batches_tracked
        got, want = stack.unstack(k), separate[k].state_dict()
        assert list(got) == list(want)
        for n in want:
            if n.endswith("num_batches_tracked"):
                assert int(got[n]) == int(want[n]) == len(batches)
            else:
                assert rel(got[n], want[n]) < tol, (k, n)
    # the replicates really differ (different seeds, different losses)
    assert rel(stack.unstack(0)["head.weight"], stack.unstack(1)["head.weight"]) > 0.1
    # eval mode: each replicate's scores are its own model's
    stack.eval()
    x = batches[0][0]
    with torch.no_grad():
        z = stack(x)
        for k, m in enumerate(separate):
            assert rel(z[:, k], m.eval()(x)) < tol


def test_unstack_loads_into_both_implementations():
    stack = StackedClassifier.from_seeds(lambda: FastCnnTcn(64, 16), SEEDS)
    x = blocks("randn", 4, 64, 16)
    stack.eval()
    with torch.no_grad():
        z = stack(x)
    for k in range(len(stack)):
        for cls in (CnnTcn, FastCnnTcn):
            m = cls(64, 16)
            m.load_state_dict(stack.unstack(k), strict=True)
            with torch.no_grad():
                assert rel(m.eval()(x), z[:, k]) < 1e-5
    # the stack's own state_dict holds the replicas and nothing else
    assert all(k.startswith("replicas.") for k in stack.state_dict())


def test_methods_agree_and_bad_input_is_refused():
    x = blocks("randn", 4, 64, 16, dtype=torch.float64)
    outs = {}
    for method in ("grouped", "vmap", "loop"):
        s = StackedClassifier.from_seeds(lambda: FastCnnTcn(64, 16).double(), SEEDS, method)
        s.train()
        outs[method] = s(x)
    assert rel(outs["vmap"], outs["grouped"]) < 1e-10
    assert rel(outs["loop"], outs["grouped"]) < 1e-10
    with pytest.raises(ValueError, match="architecture"):
        StackedClassifier([FastCnnTcn(64, 16), FastCnnTcn(128, 16)])
    with pytest.raises(ValueError, match="method"):
        StackedClassifier([FastCnnTcn(64, 16)], method="fused")
    with pytest.raises(ValueError, match="losses"):
        replicate_losses(torch.zeros(4, 3), torch.zeros(4), torch.ones(4), ["mae", "bce"])
    with pytest.raises(ValueError, match="loss 'l2'"):
        replicate_losses(torch.zeros(4, 1), torch.zeros(4), torch.ones(4), ["l2"])


def test_replicate_losses_are_the_training_modules_losses():
    """MAE and BCE as BlockClassifier.loss computes them (the training layer's oracle)."""
    from espb.training.module import BlockClassifier

    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 2, generator=g)
    y = (torch.rand(7, generator=g) > 0.5).float()
    w = torch.rand(7, generator=g) + 0.5
    got = replicate_losses(z, y, w, ["mae", "bce"])
    for k, kind in enumerate(("mae", "bce")):
        want = BlockClassifier(64, 16, loss=kind).loss(z[:, k], y, w)
        torch.testing.assert_close(got[k], want, rtol=0, atol=0)
