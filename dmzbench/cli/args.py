"""Command-line conventions the parser alone does not give: ``run MODEL TASK`` as the short form of ``--model/--task``,
``-o KEY VALUE`` answered with the KEY=VALUE form, and help that shows an argument as its plain metavar."""

from __future__ import annotations

from typing import Any

from dmzbench.errors import UsageError

KEY_VALUE_FLAGS = ("-o", "--option", "-m", "--model-setting")


def model_and_task(names: list[str], model: str | None, task: str | None) -> tuple[str, str]:
    """``run dmz probe`` is ``run --model dmz --task probe``; anything else positional is answered with that form."""
    if len(names) > 2 or (names and model is not None and task is not None):
        raise UsageError(f"unexpected argument(s) {' '.join(names)}; write dmzbench run --model NAME --task NAME "
                         "[-o KEY=VALUE ...]")
    rest = list(names)
    model = model if model is not None else (rest.pop(0) if rest else None)
    task = task if task is not None else (rest.pop(0) if rest else None)
    if rest:
        raise UsageError(f"unexpected argument {rest[0]!r}; write dmzbench run --model {model} --task {task}")
    if model is None or task is None:
        raise UsageError(f"dmzbench run needs a model and a task: dmzbench run --model {model or 'NAME'} --task "
                         f"{task or 'NAME'} (e.g. dmzbench run --model dmz --task probe; see dmzbench ls)")
    return model, task


def check_key_value_flags(args: list[str]) -> None:
    """``-o max_images 100`` is answered with the KEY=VALUE form, not click's "unexpected extra argument"."""
    for i, arg in enumerate(args[:-2]):
        key, value = args[i + 1], args[i + 2]
        if arg in KEY_VALUE_FLAGS and "=" not in key and not value.startswith("-"):
            raise UsageError(f"{arg} takes KEY=VALUE as one word: write {arg} {key}={value}")


def plain_argument_help(command: Any) -> Any:
    """Help that shows an argument as its metavar (NAME), without typer's type column (<str>)."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # typer 0.2x appends "<str>" to the metavar otherwise
    for sub in getattr(command, "commands", {}).values():
        plain_argument_help(sub)
    return command
