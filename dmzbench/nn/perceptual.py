"""LPIPS where its weights can be loaded, and an honest record of when they cannot.

LPIPS needs ImageNet-pretrained VGG/AlexNet weights, which cannot be downloaded on an offline machine. SD-VAE and DGAE
then train without that term (or with a stated stand-in) and say so in their run's config.
"""

from __future__ import annotations

from functools import lru_cache

from torch import nn


@lru_cache(maxsize=1)
def lpips_status() -> str:
    """'available', or 'omitted: <why>'."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return "omitted: the lpips package is not installed (and its VGG weights cannot be downloaded offline)"
    try:
        _load()
    except Exception as exc:  # no cached torchvision weights, no network
        return f"omitted: LPIPS weights could not be loaded ({type(exc).__name__})"
    return "available"


def _load() -> nn.Module:
    import lpips  # here: an optional dependency, loaded only when the LPIPS loss is used

    return lpips.LPIPS(net="vgg", verbose=False).eval().requires_grad_(False)


def load_lpips() -> nn.Module | None:
    return _load() if lpips_status() == "available" else None
