"""The network diagram's input for the pages: a model's ``describe()`` from its config, no torch.

Both functions come from the layer plan (:mod:`mtl.models.plan`), which the encoders build
their torch layers from and each architecture's spec describes itself with; this module only
names them for the pages.
"""

from mtl.models.plan import describe_config, encoder_depth

__all__ = ["describe_config", "encoder_depth"]
