"""The usefulness score: a tiny UNet trained on a dataset variant, scored by mIoU on labeled target images."""
