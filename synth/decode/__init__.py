"""Mask decoders, by the name a recipe's ``decode.type`` uses."""

from synth.decode.attention import AttentionDecoderConfig
from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.decode.datasetgan.decoder import DatasetGANConfig
from synth.decode.exact import ExactConfig

DECODERS: dict[str, type[DecoderConfig]] = {
    "exact": ExactConfig,
    "datasetgan": DatasetGANConfig,
    "attention": AttentionDecoderConfig,
}

__all__ = ["DECODERS", "Decoded", "Decoder", "DecoderConfig"]
