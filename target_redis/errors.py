"""The target's own error types: expected failures reported as one clear line."""


class TargetRedisError(Exception):
    """A failure the user can act on (bad config, server refused, write failed).

    Its message names the setting, stream or server involved and never holds a
    secret. The CLI prints it as one line and exits non-zero.
    """


class BadInputError(TargetRedisError):
    """The input itself is wrong; the CLI names the input line it was found on."""


class Interrupted(BaseException):
    """A termination signal arrived between two messages (not an error)."""

    def __init__(self, signum: int) -> None:
        """Remember which signal."""
        super().__init__(signum)
        self.signum = signum
