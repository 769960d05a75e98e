"""Errors that the CLI turns into a clear message and an exit status (never a traceback)."""


class CryoGuardError(Exception):
    """A failure the user should read about: exit status 1."""


class UsageError(CryoGuardError):
    """Bad arguments or a bad config file: exit status 2."""


class ConfigError(UsageError):
    """A config file that does not validate; ``problems`` lists every error, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")
