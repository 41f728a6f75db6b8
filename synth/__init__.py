"""Pixel-labeled segmentation datasets manufactured from generative models, versioned as code.

The package is laid out in pipeline order: ``recipe`` (what to make) -> ``generate`` (images and raw label
evidence, per seed) -> ``decode`` (masks) -> ``stats`` / ``validation`` (is it good enough) -> ``build``
(what the Hub expects) -> ``publish``.
"""

__version__ = "0.1.0"
