"""``model.impl`` (issue 17): the fast CNN-TCN as a switch of the training run. Same
initialisation, same outputs and the same training trajectory as the reference within float
tolerance; the reference keeps every config hash, ``fast`` is its own identity."""

from __future__ import annotations

import pytest
import torch

from espb.errors import ConfigError
from espb.models.classifier import CnnTcn
from espb.models.cnn_tcn_fast import FastCnnTcn
from espb.training.module import BlockClassifier


def _pair(**kw):
    torch.manual_seed(3)
    ref = BlockClassifier(lookback=64, patch=8, **kw)
    torch.manual_seed(3)
    fast = BlockClassifier(lookback=64, patch=8, impl="fast", **kw)
    return ref, fast


def test_the_switch_builds_the_fast_model_with_the_same_initial_weights():
    ref, fast = _pair()
    assert type(ref.model) is CnnTcn and type(fast.model) is FastCnnTcn
    a, b = ref.state_dict(), fast.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_few_training_steps_follow_the_same_trajectory():
    ref, fast = _pair(loss="bce", lr=1e-3)
    opts = [m.configure_optimizers() for m in (ref, fast)]
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        x = torch.randn(4, 1, 64, 8, 8, generator=g)
        y = (torch.rand(4, generator=g) > 0.5).float()
        w = torch.ones(4)
        for m, o in zip((ref, fast), opts, strict=True):
            o.zero_grad()
            m.loss(m(x).squeeze(-1), y, w).backward()
            o.step()
    x = torch.randn(3, 1, 64, 8, 8, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), ref(x), rtol=1e-4, atol=1e-5)
    for (k, p), q in zip(ref.state_dict().items(), fast.state_dict().values(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6, msg=k)


def test_an_unknown_impl_is_a_config_error():
    with pytest.raises(ConfigError, match="model.impl='gpu'"):
        BlockClassifier(lookback=64, patch=8, impl="gpu")


def test_the_reference_keeps_the_hash_and_fast_is_its_own_identity(smoke_cfg, tmp_path):
    from espb.training.plan import plan_run

    base = plan_run(smoke_cfg(tmp_path)).hash
    assert plan_run(smoke_cfg(tmp_path, "model.impl=reference")).hash == base
    assert plan_run(smoke_cfg(tmp_path, "model.impl=fast")).hash != base
    with pytest.raises(ConfigError, match="model.impl"):
        plan_run(smoke_cfg(tmp_path, "model.impl=gpu"))
