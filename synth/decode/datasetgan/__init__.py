"""``datasetgan``: the DatasetGAN label decoder and everything only it uses.

``decoder`` (its settings and the decoder), ``features/`` (where per-pixel features come from: the interface,
the registry, and the captured, sd_unet, stylegan2 and random_conv sources), ``ensemble`` (the per-pixel MLP
ensemble and its uncertainty), ``annotations`` (export and import of the few human masks it learns from). The
``train-decoder`` stage that fits the ensemble is ``synth/stages/train_decoder.py``. Torch and diffusers load
only inside the functions that need them.
"""
