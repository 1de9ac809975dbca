"""``edp-train``: train one run of a registered algorithm on a dataset with the protocol of the
EDP paper (Kang et al. 2023, Sec. 5), or resume, extend or evaluate one.

Examples::

    edp-train --algorithm edp_td3 --dataset hopper-medium-v2 \\
        --config.optimizer.learning-rate 1e-4 --run.epochs 10
    edp-train --resume runs/train/hopper-medium-v2/edp_td3/seed0 [--run.epochs 3000]
    edp-train --config-file runs/train/hopper-medium-v2/edp_td3/seed0/config.json --run.seed 1
    edp-train --eval-only runs/train/hopper-medium-v2/edp_td3/seed0 --episodes 10

The options are RunSpec's fields (--dataset, --algorithm, --config.* for the algorithm's config,
--run.* for the others) and Monitoring's. The defaults shown are the paper's with Table 3's
values for --dataset's domain, for --algorithm's config; --config-file (a run's config.json or a
JSON object of RunSpec fields) replaces the defaults it names, the command line overriding it.
--resume DIR --run.epochs N extends a run to N epochs, bit-identical to asking for N from the
start. Every mistake is a usage error naming the option before any work starts (status 2); a run
that fails prints one line naming the cause (status 1); SIGTERM or SIGINT stop it after a
checkpoint and it ends by that signal (a shell reports 143 or 130).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar, no_type_check

import tyro

from edp_ref.algorithms.registry import REGISTRY
from edp_ref.command_line import Command, usage_error
from edp_ref.command_line import parse as parse_command_line
from edp_ref.data.minari_io import DatasetNotFoundError, minari_dataset_path
from edp_ref.paper import TABLE3, find_paper_dataset
from edp_ref.runner.config import default_config, resolve_config
from edp_ref.runner.dataset import dataset_domain, dataset_kind, minari_root
from edp_ref.runner.monitoring import Monitoring
from edp_ref.runner.policy import evaluate_policy, load_policy
from edp_ref.runner.run_folder import (
    CONFIG_FILE,
    CheckpointError,
    RunFolderError,
    config_diff,
    configuration_document,
    identity,
    read_configuration_document,
)
from edp_ref.runner.spec import FieldError, RunSpec, config_from_json, config_to_json, tyro_readable
from edp_ref.runner.training import (
    DivergenceError,
    RunInterrupted,
    exit_by_signal,
    run_device,
    train_run,
)

__all__ = ["TrainCommand", "main", "parse"]

PROG = "edp-train"


@tyro_readable
@no_type_check
class _ParsedRun(RunSpec):
    """RunSpec's fields as tyro parses them, unchecked: :func:`parse` checks them."""

    def __post_init__(self) -> None:
        pass


@tyro_readable
@no_type_check
class _ParsedMonitoring(Monitoring):
    """Monitoring's fields as tyro parses them, not yet checked (see :class:`_ParsedRun`)."""

    def __post_init__(self) -> None:
        pass


@dataclass(frozen=True)
class TrainCommand(Command):
    """``edp-train``'s options (tyro shows each with its type, default and comment)."""

    # The run.
    run: _ParsedRun
    # How the run is watched.
    monitoring: Annotated[_ParsedMonitoring, tyro.conf.OmitArgPrefixes]
    # Gradient-norm clip of the --config.* defaults: paper (Table 3: 5) or official (per task).
    grad_clip: Literal["paper", "official"] = "paper"
    # JSON of the run's settings: a run's config.json or an object of RunSpec fields (a partial
    # "config" keeps the other defaults); the command line overrides it.
    config_file: Path | None = None
    # Run folder (None: runs/train/<dataset>/<algorithm>/seed<seed>); a folder holding this
    # configuration resumes.
    out: Path | None = None
    # Resume the run in this folder with its stored configuration (config.json); with
    # --run.epochs N, extend it to N epochs.
    resume: Path | None = None
    # Evaluate the policy of this run folder's latest checkpoint instead of training.
    eval_only: Path | None = None
    # --eval-only: episodes to run.
    episodes: int = 10
    # --eval-only: Gymnasium environment id (None: the run's own evaluation environment).
    eval_env: str | None = None
    # --eval-only: seed of the environments and of the policy's draws.
    eval_seed: int = 0
    # torch threads (None: torch's default).
    threads: int | None = None
    # Show a progress bar.
    progress: bool = True


#: Options that set the run's configuration (refused with --resume and --eval-only, but
#: --resume's --run.epochs).
_IDENTITY_OPTIONS = ("--run.", "--config", "--algorithm", "--dataset", "--grad-clip")


def _error(message: str) -> NoReturn:
    usage_error(PROG, message)


def _run_flag(field: str) -> str:
    """The option tyro names after ``RunSpec.<field>``."""
    hint = typing.get_type_hints(_ParsedRun, include_extras=True)[field]
    for meta in getattr(hint, "__metadata__", ()):
        if getattr(meta, "prefix_name", None) is False:
            return "--" + (getattr(meta, "name", None) or field).replace("_", "-")
    return "--run." + field.replace("_", "-")


T = TypeVar("T")


def _checked(cls: type[T], parsed: object, flag: Callable[[str], str]) -> T:
    """``cls`` built from the parsed fields; a usage error naming the option of a bad field."""
    try:
        return cls(**{f.name: getattr(parsed, f.name) for f in fields(cls)})  # type: ignore[arg-type]
    except FieldError as exc:
        _error(f"argument {flag(exc.field)}: {exc}")


def _config_file(path: str) -> dict[str, Any]:
    """The RunSpec fields of a ``--config-file`` (a run's ``config.json`` or an object)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _error(f"argument --config-file: {path} cannot be read as JSON ({exc})")
    if isinstance(data, dict) and "format" in data and "run" in data:
        data = data["run"]  # a run folder's config.json
    if not isinstance(data, dict):
        _error(f"argument --config-file: {path} must hold a JSON object of RunSpec fields")
    unknown = sorted(set(data) - {f.name for f in fields(RunSpec)})
    if unknown:
        _error(
            f"argument --config-file: {path}: unknown field(s) {unknown}; the fields are "
            f"RunSpec's, as in a run's config.json 'run': {[f.name for f in fields(RunSpec)]}"
        )
    return data


def _merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with the (nested) values of ``patch`` put in."""
    out = dict(base)
    for key, value in patch.items():
        nested = isinstance(value, Mapping) and isinstance(base.get(key), Mapping)
        out[key] = _merged(base[key], value) if nested else value
    return out


def _default(argv: Sequence[str]) -> TrainCommand:
    """The defaults of the options: Table 3's for --algorithm and --dataset (read first), then
    those of --config-file."""
    p = argparse.ArgumentParser(add_help=False)
    for option in ("--algorithm", "--dataset", "--grad-clip", "--config-file"):
        p.add_argument(option)
    p.add_argument("--run.domain", dest="domain")
    peek = p.parse_known_args(list(argv))[0]
    file = _config_file(peek.config_file) if peek.config_file else {}
    algorithm = peek.algorithm or file.get("algorithm") or "edp_td3"
    algorithm = algorithm if algorithm in REGISTRY else "edp_td3"
    _check_config_options(algorithm, argv)
    task = str(peek.dataset or file.get("task") or "hopper-medium-v2")
    domain = str(peek.domain or file.get("domain") or "auto")
    clip: Literal["paper", "official"] = "official" if peek.grad_clip == "official" else "paper"
    try:
        config = default_config(algorithm, task, domain, grad_clip=clip)
        row = TABLE3[dataset_domain(task, domain)]
        run = _ParsedRun(
            task,
            algorithm,
            epochs=row.epochs,
            iterations_per_epoch=row.iterations_per_epoch,
            batch_size=row.batch_size,
            config=config,
        )
    except ValueError:  # reported, naming the option, once tyro has parsed
        run = _ParsedRun(task, algorithm, config=REGISTRY[algorithm].config_class())
    if file:
        run = _with_file(run, file, peek.config_file)
    return TrainCommand(run=run, monitoring=_ParsedMonitoring())


def _check_config_options(algorithm: str, argv: Sequence[str]) -> None:
    """Every ``--config.a.b`` names a field of ``algorithm``'s config (tyro would only say
    "Unrecognized options"): a usage error naming the algorithm and the option otherwise."""
    config_class = REGISTRY[algorithm].config_class
    for flag in (a.split("=")[0] for a in argv if a.startswith("--config.")):
        cls: type | None = config_class
        for depth, part in enumerate(flag.removeprefix("--config.").split(".")):
            hints = typing.get_type_hints(cls) if cls is not None else {}
            name = part.replace("-", "_")
            if name not in hints and name.removeprefix("no_") not in hints:
                where = ".".join(flag.removeprefix("--config.").split(".")[:depth])
                groups = [
                    f"--config.{g.replace('_', '-')}.*"
                    for g, t in typing.get_type_hints(config_class).items()
                    if is_dataclass(t)
                ]
                _error(
                    f"argument {flag}: {algorithm} has no {part} "
                    + (f"field in its {where} config" if where else "config")
                    + f" ({config_class.__name__}); its groups: {', '.join(groups)}"
                )
            hint = hints.get(name)
            cls = hint if isinstance(hint, type) and is_dataclass(hint) else None


def _with_file(run: _ParsedRun, file: Mapping[str, Any], path: str) -> _ParsedRun:
    """``run`` with the fields of a ``--config-file`` (its ``config`` merged into the default
    one unless the command line names another algorithm), checked."""
    values = {k: v for k, v in file.items() if k not in ("task", "algorithm", "config")}
    config = run.config
    if file.get("config") is not None and file.get("algorithm", run.algorithm) == run.algorithm:
        cls = REGISTRY[run.algorithm].config_class
        try:
            config = config_from_json(cls, _merged(config_to_json(config), file["config"]))
        except (TypeError, ValueError) as exc:
            _error(f"argument --config-file: {path}: {exc}")
    merged = dataclasses.replace(run, **values, config=config)
    try:
        RunSpec(**{f.name: getattr(merged, f.name) for f in fields(RunSpec)})
    except (TypeError, ValueError) as exc:
        _error(f"argument --config-file: {path}: {exc}")
    return merged


def _check_dataset(spec: _ParsedRun) -> None:
    """A usage error unless the dataset exists (clearer than RunSpec's checks without it)."""
    name = spec.task
    try:
        kind = dataset_kind(name)
    except ValueError:  # RunSpec names the unknown dataset
        return
    if kind == "hdf5" and not os.path.isfile(name):
        _error(f"argument --dataset: the HDF5 file {name} does not exist")
    if kind == "hdf5" and find_paper_dataset(name) is None and spec.env_id is None:
        _error(
            f"argument --run.env-id: the HDF5 file {name} is not one of the paper's D4RL files, "
            "so it names no evaluation environment; give its Gymnasium id (--run.env-id "
            "Hopper-v5)"
        )
    if kind == "minari":
        with minari_root(spec.local_root):
            path = minari_dataset_path(name)
        if not os.path.exists(os.path.join(path, "data")):
            _error(
                f"argument --dataset: the Minari dataset {name} is not in {path}; download it "
                f"with `minari download {name}`, or point --run.local-root at the folder that "
                "holds it"
            )


def _train_folder(cmd: TrainCommand, spec: RunSpec) -> Path:
    """The run folder of a new or continued run; usage errors for what the options get wrong."""
    if cmd.grad_clip == "official":
        try:
            default_config(spec.algorithm, spec.task, spec.domain, grad_clip="official")
        except ValueError as exc:
            _error(f"argument --grad-clip: {exc}")
    if cmd.threads is not None and cmd.threads < 1:
        _error(f"argument --threads: expected an integer >= 1, got {cmd.threads}")
    try:
        run_device(spec)
    except ValueError as exc:
        _error(f"argument --run.device: {exc}")
    out = cmd.out if cmd.out is not None else Path("runs") / "train" / spec.name
    if out.exists() and not out.is_dir():
        _error(f"argument --out: {out} is a file, not a run folder")
    if (out / CONFIG_FILE).exists():
        try:
            stored = identity(read_configuration_document(out))
        except RunFolderError as exc:
            _error(f"argument --out: {exc}")
        wanted = identity(configuration_document(spec, resolve_config(spec)))
        if stored != wanted:
            _error(
                f"argument --out: {out} holds a run with another configuration ("
                + "; ".join(config_diff(stored, wanted))
                + f"); choose another --out, continue it with --resume {out}, or delete it"
            )
    return out


def parse(argv: Sequence[str]) -> tuple[str, TrainCommand, RunSpec, Monitoring, Path]:
    """Parse and check ``argv``: (mode, command, run, monitoring, folder) with mode ``train``,
    ``resume``, ``extend`` or ``eval``; SystemExit(2) naming the option on any mistake."""
    argv = list(argv)
    cmd = parse_command_line(
        TrainCommand,
        argv,
        PROG,
        __doc__ or "",
        default=_default(argv),
        config=(tyro.conf.AvoidSubcommands,),
    )
    monitoring = _checked(Monitoring, cmd.monitoring, lambda f: "--" + f.replace("_", "-"))
    if cmd.resume is not None and cmd.eval_only is not None:
        _error("argument --eval-only: not allowed with argument --resume")
    given = [a.split("=")[0] for a in argv if a.startswith(_IDENTITY_OPTIONS)]
    for flag, folder in (("--resume", cmd.resume), ("--eval-only", cmd.eval_only)):
        if folder is None:
            continue
        extend = flag == "--resume" and set(given) == {"--run.epochs"}
        if given and not extend:
            _error(
                f"argument {flag}: {flag} uses the configuration stored in {folder}; "
                f"{', '.join(given)} cannot change it"
                + (" (it takes --run.epochs, to extend the run)" if flag == "--resume" else "")
            )
        if cmd.out is not None:
            _error(f"argument --out: not allowed with argument {flag} (the run folder)")
        try:
            stored = read_configuration_document(folder)["run"]
            spec = RunSpec.from_json(stored)
        except (RunFolderError, ValueError, TypeError) as exc:
            _error(f"argument {flag}: {exc}")
        if extend and cmd.run.epochs < spec.epochs:
            _error(
                f"argument --run.epochs: {folder} holds a run of {spec.epochs} epochs; --resume "
                f"extends a run, never shortens it (got {cmd.run.epochs})"
            )
        if extend:
            spec = _checked(RunSpec, dataclasses.replace(spec, epochs=cmd.run.epochs), _run_flag)
        if flag == "--eval-only" and cmd.episodes < 1:
            _error(f"argument --episodes: expected an integer >= 1, got {cmd.episodes}")
        mode = "eval" if flag == "--eval-only" else "extend" if extend else "resume"
        return mode, cmd, spec, monitoring, folder
    _check_dataset(cmd.run)
    spec = _checked(RunSpec, cmd.run, _run_flag)
    return "train", cmd, spec, monitoring, _train_folder(cmd, spec)


def main(argv: Sequence[str] | None = None) -> int:
    """``edp-train`` (module docstring): its exit status."""
    mode, cmd, spec, monitoring, folder = parse(sys.argv[1:] if argv is None else argv)
    try:
        if mode == "eval":
            policy, _ = load_policy(folder, seed=cmd.eval_seed)
            summary = evaluate_policy(
                policy, cmd.eval_env, episodes=cmd.episodes, seed=cmd.eval_seed
            )
            print(json.dumps({"run": str(folder), **summary}, indent=2))
            return 0
        result = train_run(
            spec,
            folder,
            progress=cmd.progress,
            threads=cmd.threads,
            monitoring=monitoring,
            extend=mode == "extend",
        )
    except RunInterrupted as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        exit_by_signal(exc.signum)
    except (
        DatasetNotFoundError,
        OSError,
        ValueError,
        RunFolderError,
        CheckpointError,
        DivergenceError,
    ) as exc:
        # Missing data, damaged or locked run folders, bad data, a full disk, a diverged run:
        # the message names the file or value and what to do; a traceback would only hide it.
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{spec.name}: final RAT {result.final_rat:.2f}, OMS {result.final_oms:.2f} "
        f"({len(result.records)} evaluations)\nrun folder: {folder} (config.json, "
        f"evaluations.csv, run.log); curves: tensorboard --logdir {folder / 'tensorboard'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
