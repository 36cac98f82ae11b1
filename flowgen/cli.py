"""The `flowgen` command line. Exit codes: 0 fine, 1 a spec is invalid, 2 usage or I/O."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from flowgen import __version__
from flowgen.report import EXIT_INTERRUPTED, EXIT_OK, error, print_diagnostics


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowgen",
        description="Compile workflow specs into typed Amazon SWF packages.",
        epilog="Run 'flowgen COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"flowgen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    validate = commands.add_parser(
        "validate",
        help="check specs and print every problem as FILE:LINE:COL: PATH: message",
        description="Check specs; print nothing and exit 0 when all are valid.",
    )
    validate.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML or JSON)")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument(
        "--root",
        metavar="DIR",
        help="where build puts packages (default: generated): a package there of another workflow "
        "whose name makes the same package name is refused",
    )
    validate.set_defaults(run=_validate)

    schema = commands.add_parser("schema", help="print the spec language's JSON Schema")
    schema.set_defaults(run=_schema)

    build = commands.add_parser(
        "build",
        help="compile specs into packages (default generated/WORKFLOW/)",
        description=(
            "Compile specs into packages, each into ROOT/WORKFLOW/ (ROOT is generated/ unless --root "
            "says otherwise) or, for one spec, into --out DIR; nothing is written unless every spec "
            "compiles."
        ),
    )
    build.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML or JSON)")
    _location_options(build)
    build.add_argument("--strict", action="store_true", help="treat warnings as errors")
    build.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    build.set_defaults(run=_build)

    check = commands.add_parser(
        "check",
        help="exit 0 if the packages on disk are what build would write, 1 if not (with a diff)",
        description=(
            "Rebuild in memory and compare with disk: prints MISSING, EXTRA and CHANGED files with a "
            "unified diff. Exit 0 up to date, 1 out of date, 2 on errors."
        ),
    )
    check.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML or JSON)")
    _location_options(check)
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(run=_check)

    graph = commands.add_parser("graph", help="print the flow as a Mermaid diagram")
    graph.add_argument("spec", metavar="SPEC", help="spec file (YAML or JSON)")
    graph.set_defaults(run=_graph)

    run = commands.add_parser(
        "run",
        help="run a spec locally, without AWS, and print its result as JSON",
        description=(
            "Run a spec in one process on flowgen's own decider, with handlers imported from the "
            "current directory. Timers and retry waits take no real time."
        ),
    )
    run.add_argument("spec", metavar="SPEC", help="spec file (YAML or JSON)")
    # The options of `python -m PACKAGE.local`, from the runtime both share (no boto3 in it).
    from flowgen.runtime.localmain import local_options

    local_options(run)
    run.set_defaults(run=_run)
    return parser


def _location_options(command: argparse.ArgumentParser) -> None:
    """Where `build` writes and `check` looks: --root for any number of specs, --out for one."""
    command.add_argument(
        "--root",
        metavar="DIR",
        help="the folder packages go under: each spec's in DIR/WORKFLOW/ (default: generated)",
    )
    command.add_argument(
        "--out", metavar="DIR", help="the package folder itself (one spec only; not with --root)"
    )


def _location_error(args: argparse.Namespace, does: str) -> str | None:
    """The usage error in --out and --root, if any."""
    if args.out and args.root:
        return (
            "--out and --root cannot be used together: --out DIR is one spec's package folder, "
            "--root DIR the folder that holds each spec's WORKFLOW/"
        )
    if args.out and len(args.specs) > 1:
        return f"--out takes one spec; for several, --root DIR {does} each into DIR/WORKFLOW/ (default generated)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `flowgen schema | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code


def _validate(args: argparse.Namespace) -> int:
    from flowgen.build import held_by_another
    from flowgen.compiler import compile_specs

    held = held_by_another(None, args.root)
    return print_diagnostics(compile_specs(args.specs, strict=args.strict, held=held))


def _build(args: argparse.Namespace) -> int:
    from flowgen import build

    problem = _location_error(args, "builds")
    if problem is not None:
        return error(problem)
    return build.build(args.specs, args.out, args.strict, args.quiet, root=args.root)


def _check(args: argparse.Namespace) -> int:
    from flowgen import build

    problem = _location_error(args, "checks")
    if problem is not None:
        return error(problem)
    return build.check(args.specs, args.out, args.strict, root=args.root)


def _graph(args: argparse.Namespace) -> int:
    from flowgen import build

    return build.graph(args.spec)


def _run(args: argparse.Namespace) -> int:
    from flowgen.localrun import run_spec

    return run_spec(args)


def _schema(args: argparse.Namespace) -> int:
    from flowgen.spec.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK
