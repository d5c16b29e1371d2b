"""genrec: LLM-based generative recommendation with grounded decoding."""

from genrec.errors import AssetMissingError, ConfigError, DataError, GenrecError

__version__ = "0.1.0"

__all__ = ["AssetMissingError", "ConfigError", "DataError", "GenrecError", "__version__"]
