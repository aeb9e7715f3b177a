"""Reading a build log: which lines say what went wrong (the review console and the admin mark them)."""

ERROR_MARKERS = ("error", "failed", "exception", "✘", "traceback")


def log_lines(log: str) -> list[tuple[bool, str]]:
    """(is_error, line) for each line of a build log."""
    return [(any(marker in line.lower() for marker in ERROR_MARKERS), line) for line in log.splitlines()]
