"""User-facing errors: the CLI prints them as one clear line and exits non-zero, never a traceback."""


class MaazaError(Exception):
    """A problem the user can fix (bad input file, unknown model, missing schema...)."""


def location(path: object, line: int | None = None, field: str | None = None) -> str:
    """Format `file:line: field` prefixes used in error messages."""
    text = str(path)
    if line is not None:
        text += f":{line}"
    if field is not None:
        text += f": field '{field}'"
    return text


def unencodable_at(text: str) -> int | None:
    """Index of the first lone surrogate in `text` (a `str` UTF-8 cannot encode: tokenizers refuse it), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_encodable(text: str, what: str) -> str:
    """`text`, or a MaazaError naming `what` and the position of a lone surrogate (invalid Unicode)."""
    at = unencodable_at(text)
    if at is not None:
        raise MaazaError(f"{what} is not valid Unicode: a lone surrogate (U+{ord(text[at]):04X}) at character {at}")
    return text


class IntegrityWarning(UserWarning):
    """A file failed its integrity check (torn, truncated or changed after it was written) and was not used;
    the message names the file and what was used instead. The CLI prints it as `maaza: warning: ...`."""


def warn_integrity(message: str) -> None:
    """Emit an `IntegrityWarning` (one per call: each names a different file or line)."""
    import warnings

    warnings.warn(message, IntegrityWarning, stacklevel=3)
