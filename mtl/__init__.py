"""MTL Lab: multi-task learning from one config, as a library, a CLI and a dashboard.

Importing :mod:`mtl` or :mod:`mtl.config` does not import torch; the trainer, the models
and the weighting strategies do, and only where training happens.
"""

__version__ = "0.1.0"
