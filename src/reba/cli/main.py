"""``reba`` entry point: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import sys

from reba.cli import (
    demo,
    embed,
    evaluate,
    explain,
    export,
    fit,
    fit_moee,
    info,
    report,
    serve,
    tune,
)
from reba.cli.deps import check_command
from reba.cli.logs import configure_cli_logging

COMMANDS = {
    "embed": embed,
    "eval": evaluate,
    "report": report,
    "info": info,
    "demo": demo,
    "serve": serve,
    "export": export,
    "explain": explain,
    "tune": tune,
    "fit-moee": fit_moee,
    "fit": fit,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reba",
        description="Training-free text embeddings from causal language models (ReBA, Echo, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    configure_cli_logging()
    if argv is None and args.command == "serve":  # the process is ours to restart
        serve.restart_with_passive_threads()
    try:
        check_command(args)  # optional dependencies, before any work
        return int(args.run(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        print(f"reba {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
