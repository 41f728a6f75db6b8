"""Segmentation networks, their batching and the training loop that evaluate, mix and adapt share.

Below all three (README "Layout"), so none of them stands on another: the usefulness score trains with it,
CSA adaptation trains with it, ClassMix and the few-shot bench use its tensors and ignore label.
"""
