"""poleax version, kept apart so `poleax --version` needs no heavy import.

The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``),
``poleax --version``, ``poleax.__version__`` and every checkpoint's metadata import it.
"""

__version__ = "0.3.0"
