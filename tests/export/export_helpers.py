"""What the export tests share: `maaza export ARGV` run in-process, returning its exit code."""

from __future__ import annotations

import argparse

from maaza.export.command import add_parser


def run_export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="maaza")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", *argv])
    return args.handler(args)
