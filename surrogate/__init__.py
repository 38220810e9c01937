"""surrogate: benchmark NAS surrogate models, run search campaigns, generate tabular NAS datasets."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("surrogate")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
