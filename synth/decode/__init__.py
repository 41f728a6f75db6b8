"""Mask decoders, by the name a recipe's ``decode.type`` uses."""

from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.decode.exact import ExactConfig

DECODERS: dict[str, type[DecoderConfig]] = {
    "exact": ExactConfig,
}

__all__ = ["DECODERS", "Decoded", "Decoder", "DecoderConfig"]
