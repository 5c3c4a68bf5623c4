"""``reba report``: regenerate the Markdown table and figures from a results folder."""

from __future__ import annotations

import argparse
import sys

HELP = "regenerate results.md and the figures from DIR/results.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="a folder written by reba eval")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reba.cli.deps import require

    require("eval", "reba report (figures)", ["matplotlib"])
    from reba.eval.publish import write_report

    if not (Path(args.dir) / "results.json").exists():
        raise FileNotFoundError(f"no results.json in {args.dir}")
    files = write_report(args.dir)
    print("reba report: wrote " + ", ".join(map(str, files)), file=sys.stderr)
    return 0
