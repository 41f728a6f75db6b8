"""Loading diffusers and transformers models without the libraries' console chatter in a stage's log.

A stage shows one progress bar of its own (none with ``--quiet``). Without this, every process that loads a
model adds the libraries' own loading bars ("Loading pipeline components", "Loading weights"), from each worker
process at once, and transformers 5 warns at the first import of a pipeline class that torchvision is missing
and it falls back to the PIL image processor: the pipelines here load no image processor (the safety checker
and its feature extractor are off), so that line says nothing about what runs. Real warnings still show.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

# transformers.utils.import_utils logs this once per process when a module imports ``CLIPImageProcessor``.
_TORCHVISION_FALLBACK = "requires torchvision (not installed)"


class _DropTorchvisionFallback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _TORCHVISION_FALLBACK not in record.getMessage()


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Within: no loading progress bars from diffusers or transformers, no torchvision-fallback warning."""
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    logger = logging.getLogger("transformers.utils.import_utils")
    fallback = _DropTorchvisionFallback()
    bars = [(lib, lib.is_progress_bar_enabled()) for lib in (diffusers_logging, transformers_logging)]
    logger.addFilter(fallback)
    for lib, _ in bars:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        logger.removeFilter(fallback)
        for lib, enabled in bars:
            if enabled:
                lib.enable_progress_bar()
