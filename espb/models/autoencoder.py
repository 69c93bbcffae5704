"""The optional 2D-convolutional autoencoder of paper Appendix A (Figures A.1, A.2).

Four encoder layers (1 -> 4 -> 8 -> 16 -> 32 channels, each a 3x3 convolution of stride 2 that
halves the map) and four decoder layers (32 -> 16 -> 8 -> 4 -> 1, transposed 3x3 convolutions of
stride 2 that double it), LeakyReLU(0.1) between layers and skip connections that add each
encoder output to the decoder output of the same size (Figure A.2 shows skips; their exact form
is not printed: additive skips at the three inner resolutions, none from the input, so the
network cannot copy the input through). With the autoencoder on, the classifier sees
``reconstruction - input`` for each of the block's days (Figure A.1).
"""

from __future__ import annotations

import torch
from torch import nn


class MapAutoencoder(nn.Module):
    """(N, H, W) or (N, 1, H, W) maps -> reconstructions of the same shape. H, W divisible by 16."""

    def __init__(
        self, channels: tuple[int, ...] = (4, 8, 16, 32), negative_slope: float = 0.1
    ) -> None:
        super().__init__()
        chans = (1, *channels)
        self.enc = nn.ModuleList(
            nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1) for i in range(len(channels))
        )
        self.dec = nn.ModuleList(
            nn.ConvTranspose2d(chans[i + 1], chans[i], 3, stride=2, padding=1, output_padding=1)
            for i in reversed(range(len(channels)))
        )
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeeze = x.dim() == 3
        if squeeze:
            x = x.unsqueeze(1)
        skips = []
        z = x
        for conv in self.enc:
            z = self.act(conv(z))
            skips.append(z)
        skips.pop()  # the bottleneck itself
        for i, deconv in enumerate(self.dec):
            z = deconv(z)
            if i < len(self.dec) - 1:
                z = self.act(z + skips.pop())
        return z.squeeze(1) if squeeze else z

    @torch.no_grad()
    def residual(self, maps: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
        """``reconstruction - input`` for (N, H, W) maps, in chunks (no gradients)."""
        out = torch.empty_like(maps)
        for i in range(0, maps.shape[0], chunk):
            m = maps[i : i + chunk]
            out[i : i + chunk] = self(m) - m
        return out
