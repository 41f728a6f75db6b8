"""Per-pixel feature sources for the DatasetGAN decoder: the interface (``base``), the registry by
``decode.features.type`` (``sources``), and the sources that need their own module (``captured``, ``sd_unet``)."""
