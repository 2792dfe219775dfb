"""trtrl's models; the project's version lives here (setup.cfg reads it)."""

__version__ = "0.1.0"
