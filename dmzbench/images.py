"""Small helpers for tasks that make images: range conversion, batching, PNG grids written atomically."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from dmzbench.atomic import write_bytes


def to_uint8(x: Tensor) -> Tensor:
    """[-1, 1] float -> [0, 255] uint8 (what feature extractors and PNGs take)."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def in_batches(make: Callable[[int, int], Tensor], n: int, batch_size: int,
               log: Callable[[str], None] | None = None, what: str = "done") -> Tensor:
    """Concatenate ``make(start, count)`` over batches covering ``n`` items (results moved to the CPU). With ``log``,
    a long loop reports ``<what> i/n`` about every 10% (at most ~10 lines), so it never looks hung."""
    out, next_report = [], n / 10
    for i in range(0, n, batch_size):
        out.append(make(i, min(batch_size, n - i)).cpu())
        done = min(i + batch_size, n)
        if log is not None and done >= next_report and done < n:
            log(f"{what} {done:,}/{n:,}")
            next_report = done + n / 10
    return torch.cat(out)


def save_grid(path: Path, images_uint8: Tensor, nrow: int = 8) -> Path:
    # here: torchvision loads slowly and only saving a grid needs it
    from torchvision.utils import save_image

    buf = io.BytesIO()
    save_image(images_uint8.float() / 255.0, buf, nrow=nrow, padding=1, format="png")
    return write_bytes(path, buf.getvalue())
