"""The ``dmzbench`` command: ls, train, run, leaderboard.

User mistakes end in one line ``error: ...`` and exit code 2 (usage) or 1 (runtime); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dmzbench import __version__, registry
from dmzbench.errors import DmzbenchError, Interrupted, UsageError, did_you_mean

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train diffusion autoencoders and score them side by side.\n\nExample: dmzbench run --model dmz --task probe"
    "\n\nGlobal flags (anywhere): --import FILE.py registers a local model/task; --debug shows tracebacks.",
)
out = Console()
err = Console(stderr=True)

Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")]
Seed = Annotated[int, typer.Option(help="Seed of training and evaluation.")]
DataRoot = Annotated[Optional[str], typer.Option("--data-root", help="Folder with data sets (else $DMZBENCH_DATA).")]
Compile = Annotated[bool, typer.Option("--compile", help="Train with torch.compile (see bench/gpu_check.py).")]


@app.command("ls")
def ls(what: Annotated[str, typer.Argument(help="models, tasks, datasets or all")] = "all") -> None:
    """List what is registered (through entry points): models with their presets, tasks, data sets."""
    kinds = {"models": "model", "tasks": "task", "datasets": "dataset"}
    if what != "all" and what not in kinds:
        raise UsageError(f"cannot list '{what}'; use one of: models, tasks, datasets, all")
    for plural, kind in kinds.items():
        if what not in ("all", plural):
            continue
        table = Table(title=plural, title_justify="left")
        for col in ("name", "details", "from"):
            table.add_column(col)
        for name in registry.names(kind):
            obj = registry.get(kind, name)
            if kind == "model":
                details = f"presets: {', '.join(obj.presets)} (default {obj.default_preset})"
            elif kind == "task":
                details = f"v{obj.version}; default data set {obj.default_dataset}; needs {', '.join(sorted(obj.requires))}"
            else:
                s = obj.spec
                details = f"{s.channels}x{s.image_size}x{s.image_size}, {s.num_classes} classes"
            table.add_row(name, details, registry.source(kind, name))
        out.print(table)


@app.command()
def train(
    model: Annotated[str, typer.Option(help="Model name (see 'dmzbench ls models').")],
    dataset: Annotated[str, typer.Option(help="Data set name.")] = "fashion-mnist",
    preset: Annotated[Optional[str], typer.Option(help="Preset; default: the model's (smoke).")] = None,
    seed: Seed = 0,
    device: Device = "auto",
    data_root: DataRoot = None,
    compile: Compile = False,
) -> None:
    """Train (or resume, or just load) a model and print where its checkpoint is."""
    from dmzbench import runner, runs
    from dmzbench.train import train_summary

    if dataset not in registry.names("dataset"):
        raise did_you_mean("dataset", dataset, registry.names("dataset"))
    _check_seed(seed)
    baseline = runner.get_baseline(model)
    loaded = runner.obtain_model(model, preset or baseline.default_preset, dataset, seed, runs.resolve_device(device),
                                 data_root=data_root, compile=compile)
    from dmzbench import distributed

    if not distributed.is_main():
        return
    out.print(json.dumps({"checkpoint": str(loaded.checkpoint), "sha256": loaded.checkpoint_sha256,
                          "train": train_summary(loaded.summaries)}, indent=2))


@app.command()
def run(
    model: Annotated[str, typer.Option(help="Model name (see 'dmzbench ls models').")],
    task: Annotated[str, typer.Option(help="Task name (see 'dmzbench ls tasks').")],
    dataset: Annotated[Optional[str], typer.Option(help="Data set; default: the task's.")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Preset; default: the model's (smoke).")] = None,
    seed: Seed = 0,
    option: Annotated[Optional[list[str]], typer.Option("-o", "--option", help="Task config field, KEY=VALUE.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result record as JSON on stdout.")] = False,
    results: Annotated[Path, typer.Option(help="Where result records go.")] = Path("results"),
    device: Device = "auto",
    data_root: DataRoot = None,
    compile: Compile = False,
) -> None:
    """Train the model if needed, run the task, write a result record, print it.

    Example: dmzbench run --model pixels --task probe -o protocol=split --json
    """
    from dmzbench import runner, runs

    _check_seed(seed)
    record = runner.run_task(model, task, dataset=dataset, preset=preset, seed=seed, overrides=option or [],
                             device=runs.resolve_device(device), results_dir=results, data_root=data_root,
                             compile=compile)
    if record is None:  # a non-zero torchrun rank
        return
    if as_json:
        print(json.dumps(record.to_dict(), indent=2))
        return
    table = Table(title=f"{task} · {model}/{record.model['preset']} · {record.dataset['name']} · seed {seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in record.metrics.items():
        table.add_row(key, f"{value:.4f}")
    out.print(table)
    err.print(f"record written to {results / record.filename()}")


@app.command()
def leaderboard(
    results: Annotated[Path, typer.Option(help="Folder of result records.")] = Path("results"),
    out_dir: Annotated[Path, typer.Option("--out", help="Where the page goes.")] = Path("leaderboards/local"),
    title: Annotated[str, typer.Option(help="Page title.")] = "dmzbench leaderboard",
    note: Annotated[str, typer.Option(help="A note shown under the title.")] = "",
    check_only: Annotated[bool, typer.Option("--check", help="Fail if the page in --out no longer matches.")] = False,
    suite_name: Annotated[Optional[str], typer.Option("--suite", help="Title and note of this suite's page.")] = None,
) -> None:
    """Build the leaderboard (Markdown, CSV, plots, static HTML) from result records, or --check a committed one."""
    from dmzbench import leaderboard as lb

    if suite_name is not None:
        from dmzbench import suites

        chosen = suites.get(suite_name)
        title, note = suites.page_title(chosen), chosen.note

    if check_only:
        lb.check(results, out_dir, title, note)
        out.print(f"{out_dir / 'leaderboard.md'} matches the records in {results}")
        return
    from dmzbench.validate import writable_dir

    writable_dir(out_dir, "--out")
    for path in lb.write(results, out_dir, title, note):
        out.print(f"wrote {path}")


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        out.print(f"dmzbench {__version__}")
        raise typer.Exit()


def _check_seed(seed: int) -> None:
    from dmzbench import runs, validate

    validate.seed(seed)
    validate.writable_dir(runs.home(), "DMZBENCH_HOME")  # where checkpoints go


@app.command()
def suite(
    name: Annotated[str, typer.Argument(help="ci, small or tiny (see dmzbench/suites.py)")],
    results: Annotated[Path, typer.Option(help="Where the suite's result records go.")] = Path("results"),
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Also build the leaderboard here.")] = None,
    models: Annotated[Optional[str], typer.Option(help="Comma-separated subset of the built-in models.")] = None,
    tasks: Annotated[Optional[str], typer.Option(help="Comma-separated subset of the tasks.")] = None,
    seed: Seed = 0,
    device: Device = "auto",
    compile: Compile = False,
) -> None:
    """Run a named suite (models x presets x tasks) and optionally build its leaderboard page."""
    import time

    from dmzbench import runner, runs, suites

    chosen = suites.get(name)
    _check_seed(seed)
    from dmzbench.validate import writable_dir

    writable_dir(results, "--results")
    if out_dir is not None:  # found now, not after the whole suite ran
        writable_dir(out_dir, "--out")
    model_list = models.split(",") if models else list(suites.BUILTIN_MODELS)
    task_list = tasks.split(",") if tasks else list(suites.TASK_DATASETS)
    for t in task_list:
        if t not in suites.TASK_DATASETS:
            raise did_you_mean("task", t, suites.TASK_DATASETS)
    plan = suites.plan(chosen, model_list, task_list, lambda m: runner.get_baseline(m).presets)
    dev = runs.resolve_device(device)
    t0 = time.monotonic()
    for i, (model, preset, task, dataset, options) in enumerate(plan, 1):
        err.print(f"[{i}/{len(plan)}] {model}/{preset or 'default'} {task} on {dataset}")
        runner.run_task(model, task, dataset=dataset, preset=preset, seed=seed, overrides=options, device=dev,
                        results_dir=results, compile=compile)
    err.print(f"suite {name}: {len(plan)} runs in {time.monotonic() - t0:.0f} s")
    if out_dir is not None:
        from dmzbench import leaderboard as lb

        lb.write(results, out_dir, suites.page_title(chosen), chosen.note)


@app.command()
def check(
    model: Annotated[str, typer.Option(help="Model name (registered, or from --import FILE).")],
    preset: Annotated[Optional[str], typer.Option(help="Preset to check; default: init, else the model's default.")] = None,
    train_steps: Annotated[int, typer.Option("--train-steps", help="First train N steps per stage of the preset "
                                             "(synthetic data, CPU), then check the trained model.")] = 0,
) -> None:
    """Run the conformance suite (the one the tests use) on a model and print a pass/fail table."""
    import torch

    from dmzbench import conformance

    baseline = registry.get("model", model)()
    subject = conformance.subject_for(baseline)
    if preset:
        from dmzbench.runner import check_preset

        check_preset(baseline, preset)
        subject = conformance.Subject(baseline, preset, subject.spec)
    if not 0 <= train_steps <= 10_000:
        raise UsageError(f"--train-steps must be in 0..10000, got {train_steps}")
    table = Table(title=f"conformance of {model} ({subject.preset})")
    table.add_column("check")
    table.add_column("result")
    table.add_column("reason")
    failed = 0
    if train_steps:
        failed += _check_training(subject, train_steps, table)
    for name, fn in conformance.CHECKS.items():
        try:
            with torch.no_grad():
                reason = fn(subject)
        except Exception as exc:  # a broken adapter is what this command is for: report, don't crash
            reason = f"raised {type(exc).__name__}: {exc}"
        failed += reason is not None
        table.add_row(name, "[red]FAIL[/]" if reason else "[green]pass[/]", reason or "")
    out.print(table)
    if failed:
        total = len(conformance.CHECKS) + bool(train_steps)
        raise DmzbenchError(f"{model}: {failed} of {total} conformance checks failed (see the table)")


def _check_training(subject, steps: int, table: Table) -> bool:
    """The ``train`` row of ``dmzbench check --train-steps N``; True when it failed."""
    import tempfile

    from dmzbench import conformance

    with tempfile.TemporaryDirectory(prefix="dmzbench-check-") as tmp:
        try:
            summary = conformance.train_briefly(subject, steps, Path(tmp) / "checkpoint.pt")
        except Interrupted:
            raise
        except Exception as exc:  # a training bug is what this row reports
            table.add_row("train", "[red]FAIL[/]", f"raised {type(exc).__name__}: {exc}")
            return True
    table.add_row("train", "[green]pass[/]", summary)
    return False


def _pop_option(args: list[str], flag: str) -> list[str]:
    values = []
    while flag in args:
        i = args.index(flag)
        if i + 1 >= len(args):
            raise UsageError(f"{flag} needs a value")
        values.append(args[i + 1])
        del args[i : i + 2]
    return values


def main(argv: list[str] | None = None) -> None:
    """Entry point. ``--debug`` (show tracebacks) and ``--import FILE`` (register a local model/task file) may stand
    anywhere on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    stop_signals = _on_stop_signals(Interrupted.raise_on)  # typer would turn Ctrl-C into a silent exit 130
    try:
        for path in _pop_option(args, "--import"):
            registry.import_file(path)
        app(args=args, prog_name="dmzbench")
    except Interrupted as exc:
        if debug:
            raise
        err.print(str(exc), highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except DmzbenchError as exc:
        if debug:
            raise
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; checkpoints written so far are kept, run the same command to resume")
        sys.exit(130)
    finally:
        _on_stop_signals(stop_signals)


def _on_stop_signals(handler):
    """Install ``handler`` (one callable, or the dict this returned) for SIGINT and SIGTERM; return the old ones."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler[sig] if isinstance(handler, dict) else handler)
            for sig in (signal.SIGINT, signal.SIGTERM) if not isinstance(handler, dict) or sig in handler}
