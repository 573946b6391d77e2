"""Command-line argument parsing shared by the book's command-line tools.

The MPI programs (``python -m aichip.mpibench``, ``aichip.rmabench``, ``aichip.kvstore``,
``aichip.ddp``; :mod:`aichip.mpiharness` adds the flags they share) build their parsers with it, so
that a bad argument always ends in a usage message that names the argument and the form it accepts
(exit status 2), never in a traceback::

    parser = cli.parser("python -m aichip.mytool", "What it does.")
    parser.add_argument("--max-bytes", type=cli.size_bytes, default="1M", help=cli.SIZE_HELP)
    parser.add_argument("--iters", type=cli.int_at_least(1), default=20)
    args = cli.parse(parser, argv, checks=[
        ("--min-bytes", lambda a: a.min_bytes <= a.max_bytes, "must not exceed --max-bytes")])

argparse calls the ``type`` functions below; an ``argparse.ArgumentTypeError`` they raise becomes
``error: argument --max-bytes: <message>`` after the usage line.
"""

from __future__ import annotations

import argparse
import re

__all__ = ["SIZE_FORM", "SIZE_HELP", "parse_size", "size_bytes", "int_at_least", "int_list",
           "positive_float", "fraction", "comma_list", "parser", "parse"]

SIZE_FORM = ("a positive whole number of bytes with an optional binary suffix K, M or G "
             "(K = 1024), for example 512, 64K or 32M")
SIZE_HELP = f"message size: {SIZE_FORM}"

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)(I?B)?\s*$", re.IGNORECASE)
_SCALE = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def parse_size(text: str) -> int:
    """``"4K"`` -> 4096, ``"1M"`` -> 1048576, ``"512"`` -> 512 (``KiB``/``KB`` read as ``K``).

    Raises ValueError naming the accepted form for anything else (``"banana"``, ``"0"``,
    ``"-4K"``, ``"1.5M"``)."""
    if not isinstance(text, str):
        raise TypeError(f"size must be a string such as '64K', got {type(text).__name__}")
    m = _SIZE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a size; write {SIZE_FORM}")
    return int(m.group(1)) * _SCALE[m.group(2).upper()]


def size_bytes(text: str) -> int:
    """argparse ``type`` for a size in bytes (see :func:`parse_size`)."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def int_at_least(minimum: int):
    """argparse ``type`` for an integer >= ``minimum``."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number; write an integer >= {minimum}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; write an integer >= {minimum}")
        return value
    convert.__name__ = f"integer >= {minimum}"
    return convert


def int_list(minimum: int):
    """argparse ``type`` for a comma-separated list of integers, each >= ``minimum`` (``"512,256"``
    -> ``[512, 256]``)."""
    def convert(text: str) -> list[int]:
        items = [t.strip() for t in text.split(",")]
        try:
            values = [int(t) for t in items]
        except ValueError:
            values = []
        if not values or min(values) < minimum:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of whole numbers >= {minimum}; write them "
                f"comma-separated, for example 512,256")
        return values
    convert.__name__ = "comma-separated integers"
    return convert


def positive_float(text: str) -> float:
    """argparse ``type`` for a finite real number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number; write a real "
                                         f"number > 0, for example 0.05")
    return value


def fraction(text: str) -> float:
    """argparse ``type`` for a real number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction; write a number from 0 to 1")
    return value


def comma_list(choices):
    """argparse ``type`` for a comma-separated list drawn from ``choices`` (order kept)."""
    choices = tuple(choices)

    def convert(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"{', '.join(map(repr, bad)) or 'nothing'} not allowed; write a comma-separated "
                f"list drawn from {','.join(choices)}")
        return items
    convert.__name__ = "comma-separated list"
    return convert


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` that reports errors as usage messages (exit status 2)."""
    return argparse.ArgumentParser(prog=prog, description=description)


def parse(p: argparse.ArgumentParser, argv=None, checks=()) -> argparse.Namespace:
    """Parse ``argv``, then apply ``checks``: ``(option, predicate(args), what it must be)``; the
    first that fails ends the program with ``error: argument OPTION: <what>``."""
    args = p.parse_args(argv)
    for option, ok, what in checks:
        if not ok(args):
            p.error(f"argument {option}: {what}")
    return args
