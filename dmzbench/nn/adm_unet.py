"""An ADM-style UNet (Dhariwal & Nichol 2021, as used by DiffAE and PDAE) whose ResBlocks take a second condition z.

diffusers' ResBlocks cannot express DiffAE's multiplicative z-condition, hence this small UNet of our own:

    ResBlockTwoCond:  h = conv(SiLU(GN(x)))
                      h = GN(h) * (1 + t_scale) + t_shift                    (time, scale-shift)
                      h = h * (1 + z_scale)                                  (cond="scale":  DiffAE)
                      h = (1 + z_scale) * h + z_shift                        (cond="scale_shift": PDAE's AdaGN)
                      out = skip(x) + zero_conv(dropout(SiLU(h)))

(z_scale, z_shift) = Linear(SiLU(c)) in each block, where c is z itself (DiffAE) or, with ``cond_embed`` (PDAE's
``label_emb`` in model/shift_unet.py), one trainable projection Linear(z_dim, 4 * channels) of z shared by all blocks.

Down/upsampling are ResBlocks with down/up (ADM's ``resblock_updown``). The UNet exposes its halves separately:
``encode_half(x, t)`` returns the input blocks' skip activations and the time embedding, ``decode_half(skips, emb, z)``
runs the middle and output blocks on them (PDAE's gradient estimator is a trainable decoder half reading a frozen UNet's
encoder half).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CondMode = Literal["none", "scale", "scale_shift"]


def zero_module(m: nn.Module) -> nn.Module:
    for p in m.parameters():
        nn.init.zeros_(p)
    return m


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels), channels)


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class ResBlockTwoCond(nn.Module):
    """``unconditioned=True`` is the BeatGANs block without any condition (DiffAE's semantic encoder): it has only the
    input half, norm -> SiLU -> conv, plus the skip."""

    def __init__(self, ch_in: int, ch_out: int, emb_dim: int | None, cond_dim: int | None, cond: CondMode,
                 dropout: float, *, up: bool = False, down: bool = False, unconditioned: bool = False):
        super().__init__()
        self.in_norm, self.in_conv = norm(ch_in), nn.Conv2d(ch_in, ch_out, 3, padding=1)
        self.up, self.down, self.unconditioned = up, down, unconditioned
        self.skip = nn.Identity() if ch_in == ch_out else nn.Conv2d(ch_in, ch_out, 1)
        if unconditioned:
            return
        self.emb = nn.Linear(emb_dim, 2 * ch_out) if emb_dim else None
        self.cond = cond if cond_dim else "none"
        if self.cond != "none":
            self.cond_proj = nn.Linear(cond_dim, ch_out * (2 if cond == "scale_shift" else 1))
        self.out_norm = norm(ch_out)
        self.dropout = nn.Dropout(dropout)
        self.out_conv = zero_module(nn.Conv2d(ch_out, ch_out, 3, padding=1))

    def _resample(self, x: Tensor) -> Tensor:
        if self.up:
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.down:
            return F.avg_pool2d(x, 2)
        return x

    def forward(self, x: Tensor, emb: Tensor | None = None, z: Tensor | None = None) -> Tensor:
        h = self.in_conv(self._resample(F.silu(self.in_norm(x))))
        x = self._resample(x)
        if self.unconditioned:
            return self.skip(x) + h
        h = self.out_norm(h)
        if self.emb is not None:
            scale, shift = self.emb(F.silu(emb))[..., None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        if self.cond == "scale":
            h = h * (1 + self.cond_proj(F.silu(z))[..., None, None])
        elif self.cond == "scale_shift":
            z_scale, z_shift = self.cond_proj(F.silu(z))[..., None, None].chunk(2, dim=1)
            h = (1 + z_scale) * h + z_shift
        return self.skip(x) + self.out_conv(self.dropout(F.silu(h)))


class AttentionBlock(nn.Module):
    """Self-attention over pixels (ADM), computed with PyTorch's scaled_dot_product_attention."""

    def __init__(self, channels: int, heads: int = 1):
        super().__init__()
        self.heads = heads
        self.norm = norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x: Tensor, *_unused) -> Tensor:
        b, c, hgt, wid = x.shape
        q, k, v = self.qkv(self.norm(x).flatten(2)).reshape(b, 3, self.heads, c // self.heads, -1).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, -1)).view(b, c, hgt, wid)


class CondSequential(nn.ModuleList):
    def forward(self, x: Tensor, emb: Tensor | None, z: Tensor | None) -> Tensor:
        for layer in self:
            x = layer(x, emb, z)
        return x


@dataclass(frozen=True)
class UNetConfig:
    image_size: int = 32
    in_channels: int = 3
    out_channels: int = 3
    channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = (16,)
    heads: int = 1
    dropout: float = 0.1
    emb_dim: int | None = None  # time-embedding width; default 4 * channels
    cond_dim: int | None = None  # width of z; None = unconditional
    cond: CondMode = "none"
    cond_embed: bool = False  # project z once to the time-embedding width before the blocks (PDAE's label_emb)
    extra: dict = field(default_factory=dict, compare=False)


class ADMUNet(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        ch, emb_dim = cfg.channels, cfg.emb_dim or 4 * cfg.channels
        if cfg.cond_embed:  # only PDAE's estimator, a standalone decoder half, projects z (and the UNet never sees z)
            raise ValueError("cond_embed is for a decoder half built with decoder_half_like, not for a whole UNet")
        self.time_embed = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

        def res(ci: int, co: int, **kw) -> ResBlockTwoCond:
            return ResBlockTwoCond(ci, co, emb_dim, cfg.cond_dim, cfg.cond, cfg.dropout, **kw)

        self.conv_in = nn.Conv2d(cfg.in_channels, ch, 3, padding=1)
        self.input_blocks = nn.ModuleList()
        skip_channels, cur, res_now = [ch], ch, cfg.image_size
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers = [res(cur, ch * mult)]
                cur = ch * mult
                if res_now in cfg.attention_resolutions:
                    layers.append(AttentionBlock(cur, cfg.heads))
                self.input_blocks.append(CondSequential(layers))
                skip_channels.append(cur)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(CondSequential([res(cur, cur, down=True)]))
                skip_channels.append(cur)
                res_now //= 2
        self.skip_channels, self.bottom = skip_channels, (cur, res_now)
        self.decoder = ADMDecoderHalf(cfg, skip_channels, cur, res_now)

    def decoder_half_like(self, cfg: UNetConfig) -> ADMDecoderHalf:
        """A fresh decoder half that reads this UNet's skips, conditioned as ``cfg`` says (PDAE's estimator)."""
        return ADMDecoderHalf(cfg, self.skip_channels, *self.bottom)

    def encode_half(self, x: Tensor, t: Tensor, z: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        emb = self.time_embed(timestep_embedding(t, self.cfg.channels))
        hs = [self.conv_in(x)]
        for block in self.input_blocks:
            hs.append(block(hs[-1], emb, z))
        return hs, emb

    def forward(self, x: Tensor, t: Tensor, z: Tensor | None = None) -> Tensor:
        hs, emb = self.encode_half(x, t, z)
        return self.decoder(hs, emb, z)


class ADMDecoderHalf(nn.Module):
    """The middle and output blocks of an ADM UNet: maps the encoder half's skips (and the time embedding) to the
    output. Built standalone, with another ``cond`` mode, it is PDAE's gradient estimator."""

    def __init__(self, cfg: UNetConfig, skip_channels: list[int], cur: int, res_now: int):
        super().__init__()
        ch, emb_dim = cfg.channels, cfg.emb_dim or 4 * cfg.channels
        self.cond_embed = nn.Linear(cfg.cond_dim, emb_dim) if cfg.cond_embed and cfg.cond_dim else None
        block_cond_dim = emb_dim if self.cond_embed is not None else cfg.cond_dim

        def res(ci: int, co: int, **kw) -> ResBlockTwoCond:
            return ResBlockTwoCond(ci, co, emb_dim, block_cond_dim, cfg.cond, cfg.dropout, **kw)

        self.middle = CondSequential([res(cur, cur), AttentionBlock(cur, cfg.heads), res(cur, cur)])
        self.output_blocks = nn.ModuleList()
        skips = list(skip_channels)
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks + 1):
                layers = [res(cur + skips.pop(), ch * mult)]
                cur = ch * mult
                if res_now in cfg.attention_resolutions:
                    layers.append(AttentionBlock(cur, cfg.heads))
                if level and i == cfg.num_res_blocks:
                    layers.append(res(cur, cur, up=True))
                    res_now *= 2
                self.output_blocks.append(CondSequential(layers))
        self.out = nn.Sequential(norm(cur), nn.SiLU(), zero_module(nn.Conv2d(cur, cfg.out_channels, 3, padding=1)))

    def forward(self, hs: list[Tensor], emb: Tensor, z: Tensor | None = None) -> Tensor:
        hs = list(hs)
        if self.cond_embed is not None:
            z = self.cond_embed(z)
        h = self.middle(hs[-1], emb, z)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb, z)
        return self.out(h)


class ADMEncoder(nn.Module):
    """DiffAE's semantic encoder: the encoder half of an ADM UNet without time conditioning, its middle block, then
    GN -> SiLU -> global average pool -> 1x1 conv to ``out_dim`` (the "adaptivenonzero" pooling)."""

    def __init__(self, image_size: int, in_channels: int, channels: int, channel_mult: tuple[int, ...],
                 num_res_blocks: int, attention_resolutions: tuple[int, ...], out_dim: int, dropout: float = 0.0):
        super().__init__()

        def res(ci: int, co: int, **kw) -> ResBlockTwoCond:
            return ResBlockTwoCond(ci, co, None, None, "none", dropout, unconditioned=True, **kw)

        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1)]
        cur, res_now = channels, image_size
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers.append(res(cur, channels * mult))
                cur = channels * mult
                if res_now in attention_resolutions:
                    layers.append(AttentionBlock(cur))
            if level != len(channel_mult) - 1:
                layers.append(res(cur, cur, down=True))
                res_now //= 2
        layers += [res(cur, cur), AttentionBlock(cur), res(cur, cur)]
        self.body = nn.ModuleList(layers)
        self.head = nn.Sequential(norm(cur), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Conv2d(cur, out_dim, 1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for layer in self.body:
            h = layer(h)
        return self.head(h)
