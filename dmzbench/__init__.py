"""dmzbench: diffusion autoencoders trained and scored side by side under one protocol.

The Python API (docs/python-api.md): ``load`` a trained model, ``evaluate`` a registered name, a loaded model or any
object implementing the adapter protocol on a task, read result records with ``records`` into a tidy DataFrame and the
page's tables with ``leaderboard``. The names are loaded on first use, so ``import dmzbench`` (and ``dmzbench ls``)
stays free of torch and pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "load": "dmzbench.public_api",
    "evaluate": "dmzbench.public_api",
    "Model": "dmzbench.public_api",
    "records": "dmzbench.board.frames",
    "leaderboard": "dmzbench.board.frames",
    "ResultRecord": "dmzbench.run.records",
    "ModelAdapter": "dmzbench.api",
    "InvertibleAdapter": "dmzbench.api",
    "InterpolatingAdapter": "dmzbench.api",
    "ModelInfo": "dmzbench.api",
    "CapabilityMissing": "dmzbench.api",
    "DmzbenchError": "dmzbench.errors",  # every one-line error (a bad name, option or input; no checkpoint)
}
__all__ = list(_PUBLIC)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names load lazily below
    from dmzbench.api import CapabilityMissing, InterpolatingAdapter, InvertibleAdapter, ModelAdapter, ModelInfo
    from dmzbench.board.frames import leaderboard, records
    from dmzbench.errors import DmzbenchError
    from dmzbench.public_api import Model, evaluate, load
    from dmzbench.run.records import ResultRecord


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'dmzbench' has no attribute {name!r}")
    module = import_module(_PUBLIC[name])
    value = getattr(module, name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
