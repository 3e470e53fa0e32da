"""The ``dmzbench`` command: ls, train, run, suite, leaderboard, check, data get.

It only parses arguments, calls what the Python API calls (``dmzbench.run.plan`` resolves the names once, ``dmzbench.run.runner``
runs) and prints. User mistakes end in one line ``error: ...`` and exit code 2 (usage) or 1 (runtime); ``--debug`` shows
the traceback. Help is plain text (``-h`` or ``--help``) with plain metavars (NAME, N, PATH, KEY=VALUE).
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dmzbench import __version__, registry
from dmzbench.cli.args import check_key_value_flags, model_and_task, plain_argument_help
from dmzbench.errors import DmzbenchError, Interrupted, UsageError
from dmzbench.stopping import Watch

HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: click's metavars, not typer's <str>/<list[str]> type column
    context_settings=HELP,
    help="Train diffusion autoencoders and score them side by side.\n\nExample: dmzbench run --model dmz --task probe"
    "\n\nGlobal flags (anywhere): --import FILE.py registers a local model/task; --debug shows tracebacks.",
)
out = Console(soft_wrap=True)  # soft_wrap: a long path stays on one line (piped output is read by programs)
err = Console(stderr=True, soft_wrap=True)

Device = Annotated[str, typer.Option(metavar="DEVICE", help="auto, cpu, cuda or cuda:N")]
Seed = Annotated[int, typer.Option(metavar="N", help="Seed of training and evaluation.")]
DataRoot = Annotated[Optional[str], typer.Option("--data-root", metavar="PATH",
                                                 help="Folder with data sets (else $DMZBENCH_DATA).")]
Compile = Annotated[bool, typer.Option("--compile", help="Train with torch.compile (see bench/gpu_check.py).")]
Yes = Annotated[bool, typer.Option("--yes", help="Start even when the estimate is over --max-hours (no question).")]
MaxHours = Annotated[Optional[float], typer.Option("--max-hours", metavar="HOURS", help="Ask (on a terminal) or refuse (without one) "
                                                   "before work estimated to take longer; default $DMZBENCH_MAX_HOURS "
                                                   "or 2.")]
ModelSetting = Annotated[Optional[list[str]], typer.Option(
    "-m", "--model-setting", metavar="KEY=VALUE", help="Model preset field (repeatable): --preset smoke -m bits=32 "
    "runs the preset smoke+bits=32, its own checkpoint and leaderboard row.")]
ModelName = Annotated[Optional[str], typer.Option(metavar="NAME", help="Model name (see 'dmzbench ls models'); case "
                                                                        "does not matter.")]
TaskName = Annotated[Optional[str], typer.Option(metavar="NAME", help="Task name (see 'dmzbench ls tasks').")]
Preset = Annotated[Optional[str], typer.Option(metavar="NAME", help="Preset; default: the model's (smoke).")]


@app.command("ls")
def ls(
    what: Annotated[str, typer.Argument(metavar="WHAT", help="models, tasks, datasets, suites or all")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print the listing as JSON.")] = False,
) -> None:
    """List what is registered (through entry points): models with their presets, tasks with their options (-o) and
    metrics, data sets, and the named suites."""
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench.cli.listing import listing

    kinds = ("models", "tasks", "datasets", "suites")
    if what != "all" and what not in kinds:
        raise UsageError(f"cannot list '{what}'; use one of: {', '.join(kinds)}, all")
    found = {k: v for k, v in listing().items() if what in ("all", k)}
    if as_json:
        print(json.dumps(found, indent=2, default=str))
        return
    for plural, rows in found.items():
        table = Table(title=plural, title_justify="left")
        for col in ("name", "details", "from") if plural != "suites" else ("name", "presets", "note"):
            table.add_column(col)
        for r in rows:
            if plural == "suites":
                table.add_row(r["name"], ", ".join(r["presets"]), r["note"])
                continue
            if plural == "models":
                details = f"presets: {', '.join(r['presets'])} (default {r['default_preset']})"
            elif plural == "tasks":
                metrics = "".join(f"\n  {m['name']}{ {'higher': ' ↑', 'lower': ' ↓'}.get(m['direction'], '')}"
                                  + (" (chance)" if m["chance"] else "") + f": {m.get('meaning') or '(no meaning declared)'}"
                                  for m in r["metrics"] if m["shown"])
                options = ", ".join(f"{k}={v}" for k, v in r["options"].items())
                details = (f"v{r['version']}; default data set {r['default_dataset']}; needs {', '.join(r['requires'])}"
                           f"\nmetrics:{metrics or ' (none declared)'}\n-o options: {options}")
            else:
                details = f"{r['channels']}x{r['image_size']}x{r['image_size']}, {r['classes']} classes"
            table.add_row(r["name"], details, r["from"])
        out.print(table)


@app.command()
def train(
    model: Annotated[str, typer.Option(metavar="NAME", help="Model name (see 'dmzbench ls models').")],
    dataset: Annotated[Optional[str], typer.Option(metavar="NAME", help="Data set name; default: the model's.")] = None,
    preset: Preset = None,
    setting: ModelSetting = None,
    seed: Seed = 0,
    device: Device = "auto",
    data_root: DataRoot = None,
    compile: Compile = False,
    yes: Yes = False,
    max_hours: MaxHours = None,
) -> None:
    """Train (or resume, or just load) a model and print where its checkpoint is."""
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench import workspace
    from dmzbench.run import guard, plan, runner
    from dmzbench.train import train_summary

    _check_seed(seed)
    key = plan.model_spec(model, preset, setting, dataset, seed, device=workspace.resolve_device(device),
                          data_root=data_root, compile=compile)
    guard.check(key.model, key.preset, key.dataset, seed, "", key.device, guard.policy(max_hours, yes),
                family=type(key.baseline) if key.baseline is not None else None)
    loaded = runner.obtain(key)
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench import distributed

    if not distributed.is_main():
        return
    # plain print, not rich: rich wraps long paths at the terminal width, which breaks the JSON when piped
    print(json.dumps({"checkpoint": str(loaded.checkpoint), "sha256": loaded.checkpoint_sha256,
                      "train": train_summary(loaded.summaries)}, indent=2))


@app.command()
def run(
    # ``run dmz probe``, the short form of --model/--task (cli/args.model_and_task); the docstring shows it
    names: Annotated[Optional[list[str]], typer.Argument(hidden=True, metavar="MODEL TASK")] = None,
    model: ModelName = None,
    task: TaskName = None,
    dataset: Annotated[Optional[str], typer.Option(metavar="NAME", help="Data set; default: the task's.")] = None,
    preset: Preset = None,
    seed: Seed = 0,
    option: Annotated[Optional[list[str]], typer.Option("-o", "--option", metavar="KEY=VALUE",
                                                        help="Task config field (repeatable).")] = None,
    setting: ModelSetting = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result record as JSON on stdout (the default "
                                                          "when stdout is not a terminal).")] = False,
    results: Annotated[Path, typer.Option(metavar="PATH", help="Where result records go.")] = Path("results"),
    device: Device = "auto",
    data_root: DataRoot = None,
    compile: Compile = False,
    yes: Yes = False,
    max_hours: MaxHours = None,
) -> None:
    """Train the model if needed, run the task, write a result record, print it.

    \b
    Example: dmzbench run --model pixels --task probe -o protocol=split --json
    Short form: dmzbench run dmz probe (the same as --model dmz --task probe)
    Model settings: dmzbench run --model dmz --preset smoke -m bits=32 --task probe (preset smoke+bits=32)
    """
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench import workspace
    from dmzbench.run import guard, plan, runner

    model, task = model_and_task(names or [], model, task)
    _check_seed(seed)
    spec = plan.resolve(model, task, dataset=dataset, preset=preset, settings=setting, seed=seed,
                        overrides=option or [], device=workspace.resolve_device(device), results_dir=results,
                        data_root=data_root, compile=compile, limits=guard.policy(max_hours, yes))
    record = runner.execute(spec)
    if record is None:  # a non-zero torchrun rank
        return
    if as_json or not sys.stdout.isatty():
        print(json.dumps(record.to_dict(), indent=2))
    else:
        # here: the end-of-run table reads the task's metric declarations (torch is loaded by now)
        from dmzbench.cli.run_table import metric_rows, title

        print(title(record))
        table = Table()
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, text in metric_rows(record, spec.task_cls):
            table.add_row(name, text)
        out.print(table)
    err.print(f"record written to {results / record.filename()}", highlight=False)
    control = runner.control_record(spec, record)
    if control is not None:
        from dmzbench.cli.run_table import control_line  # here: as metric_rows above

        err.print(control_line(record, control, spec.task_cls), highlight=False, soft_wrap=True)




@app.command()
def leaderboard(
    results: Annotated[Path, typer.Option(metavar="PATH", help="Folder of result records.")] = Path("results"),
    out_dir: Annotated[Path, typer.Option("--out", metavar="PATH", help="Where the page goes.")] = Path("leaderboards/local"),
    title: Annotated[Optional[str], typer.Option(metavar="TEXT", help="Page title; default: the records' suite's.")] = None,
    note: Annotated[Optional[str], typer.Option(metavar="TEXT", help="A note under the title; default: the records' "
                                                "suite's.")] = None,
    check_only: Annotated[bool, typer.Option("--check", help="Fail if the page in --out no longer matches.")] = False,
    suite_name: Annotated[Optional[str], typer.Option("--suite", metavar="NAME", help="Title and note of this suite's "
                                                      "page.")] = None,
    claims: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Claims data; default: claims.toml beside "
                                                   "--out.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON instead of writing the page.")] = False,
) -> None:
    """Build the leaderboard (Markdown, CSV, plots, static HTML, claims) from result records, or --check a committed
    one. The title and note come from --suite, else from the suite the records name."""
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench.board import page as lb

    if suite_name is not None:
        # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
        from dmzbench.suite import catalog as suites

        chosen = suites.get(suite_name)
        title, note = suites.page_title(chosen), chosen.note

    if as_json:
        # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
        from dmzbench.board.as_json import tables_json

        print(json.dumps(tables_json(lb.load(results)), indent=2))
        return
    if check_only:
        lb.check(results, out_dir, title, note, claims)
        out.print(f"{out_dir / 'leaderboard.md'} matches the records in {results}")
        return
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench.run.validate import writable_dir

    writable_dir(out_dir, "--out")
    for path in lb.write(results, out_dir, title, note, claims):
        out.print(f"wrote {path}")


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        out.print(f"dmzbench {__version__}")
        raise typer.Exit()


def _check_seed(seed: int) -> None:
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench import workspace
    from dmzbench.run import validate

    validate.seed(seed)
    validate.writable_dir(workspace.home(), "DMZBENCH_HOME")  # where checkpoints go


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers such as 0,1,2, got {text!r}") from None
    for s in seeds:
        _check_seed(s)
    if not seeds or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds needs distinct seeds such as 0,1,2, got {text!r}")
    return seeds


@app.command()
def suite(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A named suite: ci, small, tiny or a plugin's (see "
                                        "'dmzbench ls suites').")],
    results: Annotated[Path, typer.Option(metavar="PATH", help="Where the suite's result records go.")] = Path("results"),
    out_dir: Annotated[Optional[Path], typer.Option("--out", metavar="PATH", help="Also build the leaderboard here.")] = None,
    models: Annotated[Optional[str], typer.Option(metavar="A,B", help="Comma-separated subset of the suite's models.")] = None,
    tasks: Annotated[Optional[str], typer.Option(metavar="A,B", help="Comma-separated subset of the suite's tasks.")] = None,
    seed: Seed = 0,
    seeds: Annotated[Optional[str], typer.Option(metavar="N,N", help="Comma-separated seeds, e.g. 0,1,2 (overrides "
                                                 "--seed); the page shows mean ± std over them.")] = None,
    device: Device = "auto",
    compile: Compile = False,
    budget_s: Annotated[Optional[float], typer.Option("--budget", metavar="SECONDS", help="Seconds: start only the run groups whose "
                                                      "estimate fits in what is left; recorded runs are never rerun.")] = None,
    plan_only: Annotated[bool, typer.Option("--plan", help="Print the order and estimated seconds; run nothing.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Print every planned run: recorded (device, date) or "
                                         "not yet run; run nothing.")] = False,
    profile: Annotated[Optional[str], typer.Option(metavar="NAME|PATH", help="Cost model: h100, cpu or a gpu_check JSON file "
                                                   "(default: h100 on CUDA, else cpu).")] = None,
    summary: Annotated[Optional[Path], typer.Option(metavar="PATH", help="Also write what ran / was skipped as JSON here.")] = None,
    shard: Annotated[Optional[str], typer.Option(metavar="K/N", help="Run only the K-th of N shares of the run groups "
                                                 "(balanced by the cost model), e.g. one per job of a SLURM array; see "
                                                 "docs/scale-out.md.")] = None,
    yes: Yes = False,
    max_hours: MaxHours = None,
) -> None:
    """Run a named suite (models x presets x tasks, in priority order) and optionally build its leaderboard page.

    Example (one GPU lend): dmzbench suite small --budget 360 --results leaderboards/small/results
    """
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench import workspace
    from dmzbench.run import guard, runner
    from dmzbench import budget
    from dmzbench.suite import catalog as suites, execute as suite_run

    chosen = suites.get(name)
    limits = guard.policy(max_hours, yes)
    share = suite_run.parse_shard(shard) if shard else None
    if budget_s is not None and not 0 < budget_s < float("inf"):  # nan fails every comparison: refused too
        raise UsageError(f"--budget must be a positive, finite number of seconds, got {budget_s:g}")
    _check_seed(seed)
    seed_list = _parse_seeds(seeds) if seeds else [seed]
    groups = [g for s in seed_list
              for g in suites.plan(chosen, models.split(",") if models else None, tasks.split(",") if tasks else None, s)]
    suites.check_options(chosen)
    dev = workspace.resolve_device(device)
    # the device the suite would run on prices it: a CUDA machine the (assumed or measured) H100 profile, a CPU the
    # measured 2-core profile (dmzbench/profiles/cpu.json)
    cost_model = budget.profile(profile or ("h100" if dev.type == "cuda" else "cpu"))
    if share:
        groups = suite_run.shard(groups, *share, cost_model)
    if status:
        rows = suite_run.status_rows(groups, results)
        done = sum(r["status"] == "recorded" for r in rows)
        _print_rows(f"# Runs of the {name} suite\n\n{chosen.note}\n\n{done} of {len(rows)} runs recorded in "
                    f"{results}; regenerate with: dmzbench suite {name} --status --results {results}", rows)
        return
    if plan_only:
        rows = suite_run.plan_rows(groups, results, cost_model, budget_s)
        _print_rows(f"suite {name}: plan ({cost_model.source})", rows)
        return
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench.run.validate import writable_dir

    writable_dir(results, "--results")
    if out_dir is not None:  # found now, not after the whole suite ran
        writable_dir(out_dir, "--out")
    t0 = time.monotonic()

    def run_one(run: suites.PlannedRun) -> None:
        err.print(f"  {run.model}/{run.preset or 'default'} {run.task} on {run.dataset}")
        runner.execute(runner.resolve(run.model, run.task, dataset=run.dataset, preset=run.preset, seed=run.seed,
                                      overrides=run.options, device=dev, results_dir=results, compile=compile,
                                      suite={"name": chosen.name, "note": chosen.note}, limits=limits))

    outcomes = suite_run.run_budgeted(groups, results, cost_model, budget_s, run_one, log=err.print)
    wall = time.monotonic() - t0
    rows = [o.row() for o in outcomes]
    _print_rows(f"suite {name}: {wall:.0f} s" + (f" of a {budget_s:.0f} s budget" if budget_s else ""), rows)
    left = suite_run.remaining(outcomes)
    err.print(f"suite {name}: {len(left)} run group(s) remain" + (" (run the same command again)" if left else ""))
    if summary is not None:
        # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
        from dmzbench.atomic import write_json

        write_json(summary, {"suite": name, "wall_s": round(wall, 1), "budget_s": budget_s,
                             "device": workspace.device_name(dev), "estimates": cost_model.source, "groups": rows})
    if out_dir is not None:
        # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
        from dmzbench.board import page as lb

        lb.write(results, out_dir, suites.page_title(chosen), chosen.note)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise DmzbenchError(f"{len(failed)} run group(s) failed: {', '.join(o.label for o in failed)} (see above)")


def _print_rows(title: str, rows: list[dict]) -> None:
    """Rows as a Markdown table on stdout: readable in a terminal, a log and a committed report alike."""
    fmt = lambda v: f"{v:.0f}" if isinstance(v, float) else str(v)  # noqa: E731
    print(f"{title}\n")
    if rows:
        print("| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]))
        print("\n".join("| " + " | ".join(fmt(v) for v in r.values()) + " |" for r in rows))


@app.command()
def check(
    model: Annotated[str, typer.Option(metavar="NAME", help="Model name (registered, or from --import FILE).")],
    preset: Annotated[Optional[str], typer.Option(metavar="NAME", help="Preset to check; default: init, else the "
                                                  "model's default.")] = None,
    train_steps: Annotated[int, typer.Option("--train-steps", metavar="N", help="First train N steps per stage of the preset "
                                             "(synthetic data, CPU), then check the trained model.")] = 0,
) -> None:
    """Run the conformance suite (the one the tests use) on a model and print a pass/fail table."""
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    import torch

    from dmzbench import conformance

    baseline = registry.resolve("model", model).obj()
    subject = conformance.subject_for(baseline)
    if preset:
        # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
        from dmzbench.run.runner import check_preset

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


def _check_training(subject, train_steps: int, table: Table) -> bool:
    """The ``train`` row of ``dmzbench check --train-steps N``; True when it failed."""
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench import conformance

    with tempfile.TemporaryDirectory(prefix="dmzbench-check-") as tmp:
        try:
            summary = conformance.train_briefly(subject, train_steps, Path(tmp) / "checkpoint.pt")
        except Interrupted:
            raise
        except Exception as exc:  # a training bug is what this row reports
            table.add_row("train", "[red]FAIL[/]", f"raised {type(exc).__name__}: {exc}")
            return True
    table.add_row("train", "[green]pass[/]", summary)
    return False


data_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, context_settings=HELP,
                       help="Data sets: get one onto this machine.")
app.add_typer(data_app, name="data")


@data_app.command("get")
def data_get(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A registered data set (see 'dmzbench ls datasets').")],
    data_root: DataRoot = None,
) -> None:
    """Put a data set here from the first source that works (apt-get as root, then torchvision), saying what it did."""
    # here: a command loads only the modules it uses (ls and --help stay fast and torch-free)
    from dmzbench.data import get

    out.print(get.get(name, data_root, lambda line: err.print(line, highlight=False)), highlight=False)


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
    watch = Watch().__enter__()  # ends the process if a signal is not obeyed within seconds (dmzbench/stopping.py)
    try:
        for path in _pop_option(args, "--import"):
            registry.import_file(path)
        check_key_value_flags(args)
        plain_argument_help(typer.main.get_command(app))(args=args, prog_name="dmzbench")
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
        watch.__exit__()
        _on_stop_signals(stop_signals)


def _on_stop_signals(handler):
    """Install ``handler`` (one callable, or the dict this returned) for SIGINT and SIGTERM; return the old ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler[sig] if isinstance(handler, dict) else handler)
            for sig in (signal.SIGINT, signal.SIGTERM) if not isinstance(handler, dict) or sig in handler}
