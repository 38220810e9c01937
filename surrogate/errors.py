"""The one exception type the CLI turns into a one-line message and exit status 2."""


class UsageError(ValueError):
    """Bad input from the user: unknown name, malformed string, missing or unreadable file."""
