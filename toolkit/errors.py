"""Domain errors: every failure the CLI reports carries its message and exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_CANNOT_RUN = 2


class ToolkitError(Exception):
    """Something could not run; the message says what to do about it."""

    exit_code = EXIT_CANNOT_RUN

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class CheckFailed(ToolkitError):
    """The command ran, and a check it made did not pass."""

    exit_code = EXIT_CHECK_FAILED


class ConfigError(ToolkitError):
    """phases.yaml (or another project file) is not what the toolkit expects."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems
