"""DatasetGAN-style few-shot labelling: pixel features from inside a generator, a handful of human masks,
an ensemble of per-pixel MLPs that labels every other sample, and the uncertainty that says which to drop.

Modules: ``features`` (the feature-source interface and registry), ``sd_unet`` and ``stylegan2`` (the two
sources), ``ensemble`` (the label decoder), ``annotations`` (export/import of human masks), ``train`` (the
``train-decoder`` stage). Torch and diffusers load only inside the functions that need them.
"""
