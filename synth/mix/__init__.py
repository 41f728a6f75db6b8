"""HydraMix: new samples from N >= 2 source samples, mixed by a segmentation-based mask, in pixel space or in the
feature space of a small encoder-decoder trained on the dataset. Masks of composites are exact by construction.

``config`` (recipe settings, light), ``masks`` (mixing masks), ``compose`` (sources and composites),
``learned`` (the encoder-decoder; imports torch lazily). The stage is ``synth.stages.mix``.
"""
