"""Atomic writes and strict JSONL reading: an interrupted run never leaves a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, location


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """`atomic_write_text` for bytes (a PNG, a model file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks; of a folder (a data set of several JSONL files):
    the sha256 of its `*.jsonl` files' names and hashes, in name order."""
    import hashlib

    digest = hashlib.sha256()
    if Path(path).is_dir():
        for file in sorted(Path(path).glob("*.jsonl")):
            digest.update(f"{file.name}\t{file_sha256(file)}\n".encode())
        return digest.hexdigest()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file") -> Any:
    """Load a JSON document or raise a MaazaError naming the file and the parse position."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MaazaError(f"{what} not found: {file}") from None
    except OSError as exc:
        raise MaazaError(f"cannot read {what} {file}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise MaazaError(f"{what} {file} is not valid UTF-8 (byte {exc.start + 1})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MaazaError(f"{location(file, exc.lineno)}: invalid JSON in {what}: {exc.msg}") from None
    except RecursionError:
        raise MaazaError(f"{file}: the JSON in {what} nests too deeply to read") from None


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line is an error naming file:line."""
    file = Path(path)
    try:
        handle = file.open("rb")  # bytes: a line that is not UTF-8 is reported with its number
    except FileNotFoundError:
        raise MaazaError(f"data file not found: {file}") from None
    except OSError as exc:
        raise MaazaError(f"cannot read data file {file}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MaazaError(
                    f"{location(file, number)}: not valid UTF-8 (byte {exc.start + 1} of the line: "
                    f"{raw[exc.start : exc.start + 1]!r})"
                ) from None
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MaazaError(f"{location(file, number)}: malformed JSON line: {exc.msg}") from None
            except RecursionError:
                raise MaazaError(f"{location(file, number)}: the JSON nests too deeply to read") from None
            if not isinstance(value, dict):
                raise MaazaError(
                    f"{location(file, number)}: expected a JSON object, got {type(value).__name__}"
                )
            yield number, value


def write_jsonl(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_text_rows(path: str | os.PathLike[str]) -> list[tuple[int, str, dict[str, Any]]]:
    """(line, text, fields to echo: `id`) per input row of a CLI's `--file`: a JSONL with a `text` field per
    row (`.jsonl`), else one text per non-blank line. A missing, non-string or empty `text`, a line that is not
    UTF-8 or not JSON is an error naming file:line."""
    file = Path(path)
    rows: list[tuple[int, str, dict[str, Any]]] = []
    if file.suffix == ".jsonl":
        for number, raw in iter_jsonl(file):
            text = raw.get("text")
            if not isinstance(text, str):
                what = "is missing" if text is None else "must be a string"
                raise MaazaError(f"{location(file, number, 'text')} {what}")
            if not text.strip():
                raise MaazaError(f"{location(file, number, 'text')} is empty")
            rows.append((number, text, {"id": raw["id"]} if "id" in raw else {}))
        return rows
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise MaazaError(f"input file not found: {file}") from None
    except OSError as exc:
        raise MaazaError(f"cannot read input file {file}: {exc.strerror}") from None
    for number, raw_line in enumerate(data.splitlines(), start=1):
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MaazaError(f"{location(file, number)}: not valid UTF-8 (byte {exc.start + 1} of the line)") from None
        if line.strip():
            rows.append((number, line, {}))
    return rows


def add_text_io_arguments(parser: Any, verb: str) -> None:
    """The input and output options of a CLI that reads texts (`maaza classify`, `maaza filter`): TEXT ...,
    `--file` (read by `read_text_rows`) and `--out` (written by `emit_lines`)."""
    parser.add_argument("texts", nargs="*", metavar="TEXT", help=f"the texts to {verb}")
    parser.add_argument("--file", default=None, help="input: JSONL rows with `text` (.jsonl), else one text per line")
    parser.add_argument("--out", default=None, help="write the JSON lines to this file (default: stdout)")


def text_rows_from_args(args: Any, verb: str) -> list[tuple[int, str, dict[str, Any]]]:
    """The rows of `add_text_io_arguments`' options: from `--file`, else the TEXT arguments (an empty one is
    an error, as an empty `text` in a file is); neither or both is an error saying what to give."""
    if args.file is not None and args.texts:
        raise MaazaError("give either TEXT ... or --file, not both")
    if args.file is not None:
        return read_text_rows(Path(args.file))
    if not args.texts:
        raise MaazaError(f"nothing to {verb}: give TEXT ... or --file in.jsonl|in.txt")
    for index, text in enumerate(args.texts):
        if not text.strip():
            raise MaazaError(f"TEXT {index + 1} is empty")
    return [(index, text, {}) for index, text in enumerate(args.texts)]


def emit_lines(lines: list[str], out: str | os.PathLike[str] | None, done: str) -> None:
    """A CLI's output lines: to stdout, or written atomically to `out` with one line on stderr saying how many
    texts were `done` ("classified", "checked")."""
    import sys

    if out is None:
        for line in lines:
            print(line)
        return
    atomic_write_text(out, "".join(line + "\n" for line in lines))
    print(f"{len(lines)} text(s) {done} -> {out}", file=sys.stderr)
