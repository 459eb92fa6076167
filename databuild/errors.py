"""The one exception type for user-facing errors: the CLI prints `Error: <message>` and exits 1."""


class DatabuildError(Exception):
    """A problem with the user's input, options or store, explained in the message."""
