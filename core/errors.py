"""Errors the engine raises with a message meant for the operator (one line, names the culprit)."""


class ConsoleError(Exception):
    """Anything the operator should see as a clear message rather than a traceback."""

    exit_code = 1


class BadInput(ConsoleError):
    """The operator's input (a flag, a file, a name) is wrong: exit code 2."""

    exit_code = 2


class NotFound(BadInput):
    """A named object does not exist."""


class StoreError(ConsoleError):
    """The store cannot be opened or used."""

    exit_code = 2


class Forbidden(ConsoleError):
    """The operator's role (or --read-only) does not allow this: exit code 3."""

    exit_code = 3


class ClusterError(ConsoleError):
    """The cluster refused or failed a change (the message says what it answered)."""


class TooManyRequests(ClusterError):
    """429: e.g. an eviction that would violate a PodDisruptionBudget; worth retrying later."""


class Conflict(ConsoleError):
    """The object changed since (a rollback would overwrite someone's change): exit code 1 unless forced."""


class MetricsUnavailable(ConsoleError):
    """The serving metrics' source (Prometheus, Alertmanager) did not answer: down, slow, refused the
    credentials, or an error in the query. Views show it and carry on."""
