"""Atomic writes and strict JSONL reading: an interrupted run never leaves a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maaza.errors import MaazaError, location, warn_integrity

CHECKSUM_KEY = "content_sha256"  # a checked JSON file's digest of the rest of its content


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def temp_prefix(name: str) -> str:
    """The prefix of a hidden temporary sibling of `name` made by this process: `.NAME.pidPID.`. A run killed
    mid-write leaves such a file or folder behind; `remove_stale_temps` deletes it on the next write."""
    return f".{name}.pid{os.getpid()}."


def remove_stale_temps(folder: str | os.PathLike[str], name: str) -> None:
    """Delete `temp_prefix(name)` leftovers in `folder` whose process is gone (killed mid-write); those of
    a live process (another run writing the same target) are left alone."""
    import glob
    import shutil

    base = Path(folder)
    if not base.is_dir():
        return
    for path in base.glob(f".{glob.escape(name)}.pid*"):
        pid = path.name[len(name) + 5 :].split(".", 1)[0]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """`atomic_write_text` for bytes (a PNG, a model file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target.parent, target.name)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp_name, target)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full disk, a file size limit, a read-only folder
            kept = "the previous version is unchanged" if target.exists() else "nothing was written"
            raise MaazaError(f"could not write {target}: {exc.strerror or exc}; {kept}") from exc
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


def json_digest(data: dict[str, Any]) -> str:
    """sha256 of a JSON object's canonical text (sorted keys, no spaces), `CHECKSUM_KEY` left out."""
    import hashlib

    body = {key: value for key, value in data.items() if key != CHECKSUM_KEY}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_checked_json(path: str | os.PathLike[str], data: dict[str, Any], *, indent: int | None = 2) -> None:
    """`atomic_write_json` with the content's sha256 under `CHECKSUM_KEY`, keeping the file it replaces as
    the hidden `.NAME.prev` beside it (a hard link, so PATH exists at every moment), for `read_checked_json`
    to fall back on."""
    target = Path(path)
    if target.is_file():
        link = target.with_name(f".{target.name}.prev-link")
        link.unlink(missing_ok=True)
        try:
            os.link(target, link)
        except OSError:  # a file system without hard links: a copy does the same, slower
            import shutil

            shutil.copyfile(target, link)
        os.replace(link, previous_version(target))
    atomic_write_json(target, {**data, CHECKSUM_KEY: json_digest(data)}, indent=indent)


def previous_version(path: str | os.PathLike[str]) -> Path:
    """Where `write_checked_json` keeps the version it replaced: `.NAME.prev`, hidden beside the file."""
    target = Path(path)
    return target.with_name(f".{target.name}.prev")


def _checked(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(data without its checksum, None) for a good checked file, else (None, what is wrong with it).
    A file without `CHECKSUM_KEY` (written before checksums) is taken as it parses."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None, "it is missing"
    except OSError as exc:
        return None, f"it cannot be read ({exc.strerror})"
    except UnicodeDecodeError as exc:
        return None, f"it is not valid UTF-8 (byte {exc.start + 1}): truncated or damaged"
    except json.JSONDecodeError as exc:
        return None, f"it is not valid JSON (line {exc.lineno}: {exc.msg}): truncated or damaged"
    except RecursionError:
        return None, "it nests too deeply to read"
    if not isinstance(data, dict):
        return None, f"it holds a JSON {type(data).__name__}, not an object"
    stored = data.pop(CHECKSUM_KEY, None)
    if stored is not None and stored != json_digest(data):
        return None, "its sha256 does not match its content: it changed after it was written"
    return data, None


def read_checked_json(path: str | os.PathLike[str], *, what: str) -> dict[str, Any] | None:
    """The content of a `write_checked_json` file, verified; None when there is no file. A damaged file is
    not used: a warning names it and the previous good version (`previous_version`) is used instead; when that is
    damaged or missing too, a MaazaError names both."""
    file = Path(path)
    if not file.exists():
        return None
    data, problem = _checked(file)
    if problem is None:
        return data
    previous = previous_version(file)
    older, older_problem = _checked(previous)
    if older is not None:
        warn_integrity(f"{what} {file} is damaged ({problem}); using the previous good version {previous}")
        return older
    raise MaazaError(
        f"{what} {file} is damaged ({problem}) and there is no good previous version ({previous}: "
        f"{older_problem}); delete it to start over"
    )


def checked_line(record: dict[str, Any]) -> str:
    """One JSONL line of `record` with its sha256 under `CHECKSUM_KEY`, for `read_checked_lines`."""
    return json.dumps({**record, CHECKSUM_KEY: json_digest(record)}, ensure_ascii=False) + "\n"


def append_checked_lines(path: str | os.PathLike[str], records: list[dict[str, Any]]) -> None:
    """Append `checked_line`s with one `os.write` on an O_APPEND descriptor, then fsync: a kill leaves at most
    one torn last line, which `read_checked_lines` cuts off."""
    if not records:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(checked_line(record) for record in records).encode("utf-8"))
        os.fsync(fd)
    except OSError as exc:
        raise MaazaError(f"could not append to {target}: {exc.strerror or exc}; the lines before are kept") from exc
    finally:
        os.close(fd)


def read_checked_lines(path: str | os.PathLike[str], *, what: str) -> list[dict[str, Any]]:
    """The good records of an append-only checked JSONL (none when there is no file). A torn line (the last
    one, cut by a kill: it is truncated away, so the next append starts on a fresh line) or a line whose
    content does not match its sha256 is not used, and one warning names the file and its line numbers.
    Lines without `CHECKSUM_KEY` (written before checksums) are taken as they parse."""
    file = Path(path)
    if not file.is_file():
        return []
    records: list[dict[str, Any]] = []
    damaged: list[int] = []
    torn_at: int | None = None
    offset = 0
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            record = _checked_line(raw) if raw.endswith(b"\n") else None
            if record is None:
                damaged.append(number)
                if not raw.endswith(b"\n"):
                    torn_at = offset
            else:
                records.append(record)
            offset += len(raw)
    if torn_at is not None:
        os.truncate(file, torn_at)
    if damaged:
        shown = ", ".join(str(n) for n in damaged[:10]) + (" ..." if len(damaged) > 10 else "")
        warn_integrity(f"{what} {file}: {len(damaged)} damaged line(s) not used (line {shown}: torn, or the "
                       "content does not match its sha256); their work is done again")
    return records


def _checked_line(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    stored = record.pop(CHECKSUM_KEY, None)
    if stored is not None and stored != json_digest(record):
        return None
    return record


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
