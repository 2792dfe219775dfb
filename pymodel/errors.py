"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class TrtrlError(Exception):
    """Bad input or a missing tool, reported to the user as one line (no traceback)."""


class CaseError(TrtrlError):
    """A malformed case or trace file; the message names the offending key."""


class ConfigError(TrtrlError):
    """A bad model or hardware configuration; the message names the parameter."""
