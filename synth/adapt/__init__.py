"""CSA: closing the synthetic-to-target gap. ``target`` reads target-domain images (folder, Hub, scenes),
``stylize`` and ``domain`` are the pixel level (training-free transfer, a domain distance), ``csa`` the feature
level (ClassMix, EMA teacher, top-k prototypes, contrastive loss) used by the usefulness score."""
