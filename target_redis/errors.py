"""The target's own error type: expected failures reported as one clear line."""


class TargetRedisError(Exception):
    """A failure the user can act on (bad config, bad input, server refused).

    Its message names the setting, stream or server involved and never holds a
    secret. The CLI prints it as one line and exits non-zero.
    """
