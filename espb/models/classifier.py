"""The CNN-TCN classifier of paper Section 3.2 (Figure 2).

The paper states the ingredients and the parameter count (8081) but not the full layer order:

- spatial stages: ``Conv3d`` kernel (1, 2, 2), stride (1, 2, 2): the 32 x 32 patch halves at each
  stage while the channels double, so five stages take 32 x 32 x 1 to 1 x 1 x 32;
- temporal stages: ``Conv3d`` kernel (2, 1, 1) with dilation (2^n, 1, 1), no padding, each followed
  by LeakyReLU(0.1) and BatchNorm ("blocks ending in a batch normalization"); nine of them with
  n = 0..8 shorten 512 days by 1 + 2 + ... + 256 = 511, to one, so the receptive field is exactly
  the lookback;
- 32 channels into one ``Linear`` to a scalar score, then a sigmoid.

The interleaving of the two kinds of stage is not printed. ``layout`` spells it with ``S``
(spatial) and ``T`` (temporal). The default ``SSTTTSTTTSTSTT`` without bias in the convolutions
(each temporal one is normalised by its BatchNorm) has exactly 8081 parameters, the paper's count;
`docs/models.md` shows how it was found and the other layouts that also give 8081.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: the default layout (5 spatial, 9 temporal stages): 8081 parameters for 512 x 32 x 32 blocks
PAPER_LAYOUT = "SSTTTSTTTSTSTT"


def layout_for(lookback: int, patch: int = 32, layout: str | None = None) -> str:
    """The layout to use for ``lookback`` days and a ``patch`` x ``patch`` block.

    ``layout`` if given (validated), else the paper layout for 512 x 32, else a generic one: the
    spatial stages spread evenly among the temporal ones."""
    if lookback < 2 or patch < 2:
        raise ValueError(
            f"model: lookback ({lookback}) and patch ({patch}) must be powers of two >= 2"
        )
    n_s = int(round(math.log2(patch)))
    n_t = int(round(math.log2(lookback)))
    if 2**n_s != patch or 2**n_t != lookback:
        raise ValueError(
            f"model: lookback ({lookback}) and patch ({patch}) must be powers of two "
            "(each temporal stage of dilation 2^n shortens time by 2^n, each spatial stage halves space)"
        )
    if layout is None:
        if (n_s, n_t) == (5, 9):
            return PAPER_LAYOUT
        # evenly interleaved: one spatial stage, then the temporal stages due by then, and so on
        slots = ["T"] * n_t
        out: list[str] = []
        per = n_t / max(n_s, 1)
        acc = 0.0
        for _i in range(n_s):
            out.append("S")
            acc += per
            while len(out) - out.count("S") < round(acc) and slots:
                out.append(slots.pop())
        out.extend(slots)
        layout = "".join(out)
    if set(layout) - {"S", "T"} or layout.count("S") != n_s or layout.count("T") != n_t:
        raise ValueError(
            f"model.layout={layout!r}: needs exactly {n_s} 'S' (patch {patch}) and {n_t} 'T' "
            f"(lookback {lookback}) characters and nothing else"
        )
    return layout


class CnnTcn(nn.Module):
    """Block (B, L, P, P) -> score logit (B,). ``sigmoid`` of the logit is the anomaly score."""

    def __init__(
        self,
        lookback: int = 512,
        patch: int = 32,
        layout: str | None = None,
        in_channels: int = 1,
        negative_slope: float = 0.1,
        conv_bias: bool = False,
    ) -> None:
        super().__init__()
        self.layout = layout_for(lookback, patch, layout)
        self.lookback, self.patch = lookback, patch
        layers: list[nn.Module] = []
        c = in_channels
        dilation = 1
        for kind in self.layout:
            if kind == "S":
                layers.append(
                    nn.Conv3d(c, 2 * c, kernel_size=(1, 2, 2), stride=(1, 2, 2), bias=conv_bias)
                )
                c *= 2
            else:
                layers += [
                    nn.Conv3d(
                        c, c, kernel_size=(2, 1, 1), dilation=(dilation, 1, 1), bias=conv_bias
                    ),
                    nn.LeakyReLU(negative_slope),
                    nn.BatchNorm3d(c),
                ]
                dilation *= 2
        self.features = nn.Sequential(*layers)
        self.channels = c
        self.head = nn.Linear(c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.unsqueeze(1)
        z = self.features(x)  # (B, C, 1, 1, 1)
        return self.head(z.flatten(1)).squeeze(1)


def n_parameters(model: nn.Module) -> int:
    """Trainable parameters (the paper's count excludes BatchNorm running statistics)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe(model: CnnTcn) -> str:
    """The layer-by-layer layout with output shapes and parameter counts, for logs and docs."""
    rows = [
        f"CnnTcn layout {model.layout}: input (1, {model.lookback}, {model.patch}, {model.patch})"
    ]
    t, s, c = model.lookback, model.patch, 1
    for m in model.features:
        n = sum(p.numel() for p in m.parameters())
        if isinstance(m, nn.Conv3d):
            if m.stride[1] == 2:
                s //= 2
                c = m.out_channels
                what = "spatial Conv3d k(1,2,2) s(1,2,2)"
            else:
                t -= m.dilation[0]
                what = f"temporal Conv3d k(2,1,1) d({m.dilation[0]},1,1)"
        elif isinstance(m, nn.BatchNorm3d):
            what = "BatchNorm3d"
        else:
            what = f"LeakyReLU({m.negative_slope:g})"
        rows.append(f"  {what:<36} -> ({c}, {t}, {s}, {s})  params {n}")
    rows.append(
        f"  Linear({model.channels}, 1)                       -> score     params {model.channels + 1}"
    )
    rows.append(f"  total trainable parameters: {n_parameters(model)}")
    return "\n".join(rows)
