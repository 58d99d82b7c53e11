"""The error every layer raises for input that cannot work (one line, exit status 2)."""


class ConfigError(ValueError):
    """A setting that cannot work; the message says which and what is accepted."""
