"""The CLIP BPE tokenizer (OpenAI CLIP's ``bpe_simple_vocab_16e6.txt.gz``, as ``open-clip-torch`` ships it) written
as the ``vocab.json`` + ``merges.txt`` pair that ``transformers.CLIPTokenizer`` reads: the same 49,408-token
vocabulary, in the same order, as every Stable Diffusion 1.x tokenizer folder.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import cast

from synth.errors import UserError

N_MERGES = 49152 - 256 - 2


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's reversible byte -> printable character table (the 256 base symbols, in vocabulary order)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(b)
        else:
            chars.append(256 + extra)
            extra += 1
    order = printable + [b for b in range(256) if b not in printable]
    table = dict(zip(range(256), chars))
    return [chr(table[b]) for b in order]


def write_clip_tokenizer(bpe_gz: Path, folder: Path) -> Path:
    """Write a ``CLIPTokenizer`` folder built from CLIP's BPE merges file (77-token context, pad = end of text)."""
    from transformers import CLIPTokenizer

    try:
        lines = gzip.decompress(Path(bpe_gz).read_bytes()).decode("utf-8").split("\n")
    except FileNotFoundError:
        raise UserError(f"{bpe_gz}: CLIP BPE file not found (pip install open-clip-torch ships it)") from None
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise UserError(f"{bpe_gz}: not a readable CLIP BPE file ({error})") from None
    merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1]]
    if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
        raise UserError(f"{bpe_gz}: expected {N_MERGES} merge lines of two symbols")
    base = _bytes_to_unicode()
    tokens = base + [b + "</w>" for b in base] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    tokenizer = CLIPTokenizer(
        vocab={t: i for i, t in enumerate(tokens)},
        # tokenizers' BPE takes (left, right) pairs; transformers annotates the argument as list[str]
        merges=cast("list[str]", merges),
        model_max_length=77,
        pad_token="<|endoftext|>",
    )
    Path(folder).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    return Path(folder)
