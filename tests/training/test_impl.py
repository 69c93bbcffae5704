"""``model.impl`` (issue 17): the fast CNN-TCN as a switch of the training run. Same
initialisation, same outputs and the same training trajectory as the reference within float
tolerance. ``fast`` is the composed default (conf/model/cnn_tcn.yaml); ``model.impl=reference``
gives back the config hash every run had before the switch, and a saved config without the key
means the reference."""

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


def test_fast_is_the_default_and_the_reference_its_own_identity(smoke_cfg, tmp_path):
    from espb.training.plan import plan_run

    plan = plan_run(smoke_cfg(tmp_path))
    assert plan.settings.model.impl == "fast"
    assert plan_run(smoke_cfg(tmp_path, "model.impl=fast")).hash == plan.hash
    ref = plan_run(smoke_cfg(tmp_path, "model.impl=reference"))
    assert ref.settings.model.impl == "reference" and ref.hash != plan.hash
    with pytest.raises(ConfigError, match="model.impl"):
        plan_run(smoke_cfg(tmp_path, "model.impl=gpu"))


def test_a_saved_config_without_the_key_is_the_reference_and_keeps_its_hash(smoke_cfg, tmp_path):
    """A run saved before ``model.impl`` existed trained the Conv3d model: re-planned from its
    config it must rebuild that model (not the new default) under its own hash."""
    from omegaconf import OmegaConf

    from espb.training.plan import plan_run

    cfg = smoke_cfg(tmp_path, "model.impl=reference")
    ref_hash = plan_run(cfg).hash
    old = OmegaConf.to_container(cfg, resolve=False)
    del old["model"]["impl"]
    plan = plan_run(OmegaConf.create(old))
    assert plan.settings.model.impl == "reference"
    assert plan.hash == ref_hash
