"""The autoencoder cache reads no code from files (issue 12 "code from files"): a cached file is
verified against its manifest (key, SHA-256) and read with ``torch.load(weights_only=True)``; a
planted pickle is never executed, whether it comes with a forged manifest or without one, and the
cache rebuilds with a message saying why."""

from __future__ import annotations

import builtins
import json

import pytest
import torch

import espb.models.ae_fit as ae_fit
from espb.models.ae_fit import get_autoencoder, load_cached_autoencoder
from espb.models.autoencoder import MapAutoencoder


class _Builder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self):
        self.calls += 1
        torch.manual_seed(self.calls)
        return MapAutoencoder(), {"epochs": 3, "best_val_mse": 0.5, "history": [(1.0, 0.5)]}


class _Evil:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _plant(path, key, marker, *, forge_manifest: bool) -> None:
    torch.save({"key": key, "state_dict": {}, "info": _Evil(str(marker))}, path)
    if forge_manifest:  # an attacker who writes the manifest too, with the right checksum
        path.with_suffix(".json").write_text(
            json.dumps({"key": key, "sha256": ae_fit._sha256(path), "info": {}})
        )


@pytest.mark.parametrize("forge_manifest", [False, True], ids=["no-manifest", "forged-manifest"])
def test_a_planted_pickle_is_not_executed_and_the_cache_rebuilds(tmp_path, forge_manifest):
    d = tmp_path / "autoencoders"
    d.mkdir()
    marker = tmp_path / "PWNED"
    _plant(d / "ae-k1.pt", "k1", marker, forge_manifest=forge_manifest)
    build, said = _Builder(), []
    model, info, built = get_autoencoder("k1", tmp_path, build, on_wait=said.append)
    assert not marker.exists(), "the planted pickle ran code"
    assert built and build.calls == 1 and info["epochs"] == 3
    why = "weights_only=True" if forge_manifest else "no checksum manifest"
    assert said and "rebuilding" in said[0] and why in said[0], said
    # the rebuilt file is a verified one, loaded without rebuilding
    m2, info2, built2 = get_autoencoder("k1", tmp_path, build)
    assert not built2 and build.calls == 1 and not marker.exists()
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), m2.state_dict().values(), strict=True)
    )
    assert info2 == info  # tuples stay tuples: plain containers load with weights_only=True


def test_a_changed_weights_file_is_caught_by_its_checksum(tmp_path):
    build, said = _Builder(), []
    get_autoencoder("k1", tmp_path, build)
    p = tmp_path / "autoencoders" / "ae-k1.pt"
    other = MapAutoencoder()
    torch.save({"key": "k1", "state_dict": other.state_dict()}, p)  # valid, but not ours
    _, _, built = get_autoencoder("k1", tmp_path, build, on_wait=said.append)
    assert built and build.calls == 2 and "sha256" in said[0] and "differs" in said[0]


def test_an_old_format_file_without_manifest_is_rebuilt(tmp_path):
    """espb before the manifest wrote key, weights and info into one pickle."""
    d = tmp_path / "autoencoders"
    d.mkdir()
    torch.save(
        {"key": "k1", "state_dict": MapAutoencoder().state_dict(), "info": {}}, d / "ae-k1.pt"
    )
    build, said = _Builder(), []
    _, _, built = get_autoencoder("k1", tmp_path, build, on_wait=said.append)
    assert built and "older espb" in said[0]
    assert (d / "ae-k1.json").is_file()


def test_loads_only_with_weights_only(tmp_path, monkeypatch):
    get_autoencoder("k1", tmp_path, _Builder())
    seen = []
    real = torch.load

    def spy(*a, **k):
        seen.append(k.get("weights_only"))
        return real(*a, **k)

    monkeypatch.setattr(ae_fit.torch, "load", spy)
    load_cached_autoencoder(tmp_path / "autoencoders" / "ae-k1.pt", "k1")
    assert seen == [True]
