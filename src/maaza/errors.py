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
