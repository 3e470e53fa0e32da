"""The ADM UNet shapes that more than one family shares: ``ddpm`` trains them and PDAE freezes the trained ``ddpm`` of
the same preset name as its pre-trained DPM, so both read the shape from here (a family never imports another)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dmzbench.api import DataSpec
from dmzbench.nn.adm_unet import UNetConfig


@dataclass(frozen=True, kw_only=True)
class ADMShape:
    """The width, depth, attention and dropout of an ADM UNet (the fields a preset names)."""

    channels: int
    channel_mult: tuple[int, ...]
    num_res_blocks: int
    attention_resolutions: tuple[int, ...]
    dropout: float


def unet_config(shape: Any, spec: DataSpec, **overrides: Any) -> UNetConfig:
    """The ``UNetConfig`` of ``shape`` (an ``ADMShape`` or any preset with its fields) for images of ``spec``;
    in/out channels default to the images' channels."""
    kw = dict(image_size=spec.image_size, in_channels=spec.channels, out_channels=spec.channels)
    kw.update(overrides)
    return UNetConfig(channels=shape.channels, channel_mult=tuple(shape.channel_mult),
                      num_res_blocks=shape.num_res_blocks, attention_resolutions=tuple(shape.attention_resolutions),
                      dropout=shape.dropout, **kw)


ADM_SMOKE = ADMShape(channels=32, channel_mult=(1, 2, 2), num_res_blocks=1, attention_resolutions=(16,), dropout=0.0)
# preset name -> the unconditional DPM's shape (ddpm's presets; PDAE's frozen DPM of the same preset name)
ADM_SHAPES = {
    "init": ADM_SMOKE,
    "smoke": ADM_SMOKE,
    "cpu": ADM_SMOKE,
    "cpu-aux": ADM_SMOKE,
    "small": replace(ADM_SMOKE, channels=64, num_res_blocks=2, dropout=0.1),
    # DDPM's CIFAR-10 widths on the ADM UNet (toolkit choice: ADM resblock up/down sampling)
    "cifar10-paper": ADMShape(channels=128, channel_mult=(1, 2, 2, 2), num_res_blocks=2, attention_resolutions=(16,),
                              dropout=0.1),
}
