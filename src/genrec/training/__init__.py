"""Training generative recommenders: configs, the compact backbone, examples, the loop, checkpoints.

Heavy modules (`loop`, `command`, `demo`) are imported from their own paths so that reading configs
stays cheap.
"""

from genrec.training.config import RunConfig, load_config, shipped_recipes

__all__ = ["RunConfig", "load_config", "shipped_recipes"]
