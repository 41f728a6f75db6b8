"""Where class phrases sit in a tokenized prompt: how the diffusion generator finds the tokens whose attention
maps are a class's score map, and how ``synth check`` finds phrases a model's tokenizer cannot represent.

Pure functions of a (transformers) tokenizer; kept apart from the diffusion settings and the pipeline so both
can use them without importing each other.
"""

from __future__ import annotations


def phrase_tokens(tokenizer, phrase: str) -> list[int]:
    return tokenizer(phrase, add_special_tokens=False).input_ids


def locate_phrase(tokenizer, phrase: str) -> list[int] | None:
    """Token ids of a class phrase, or None when the tokenizer cannot represent it (it maps to unknown)."""
    ids = phrase_tokens(tokenizer, phrase)
    if not ids or tokenizer.unk_token_id in ids:
        return None
    return ids


def class_token_positions(tokenizer, phrases: list[str]) -> list[list[int]]:
    """Positions of each phrase in the tokenized class prompt ``" ".join(phrases)``, +1 for the BOS token.

    Phrases are tokenized in context and matched in order, so a repeated word ("person person") resolves to
    its own occurrence. Multi-token phrases get all their positions (their maps are averaged).
    """
    prompt_ids = tokenizer(" ".join(phrases), add_special_tokens=False).input_ids
    positions, cursor = [], 0
    for phrase in phrases:
        ids = phrase_tokens(tokenizer, phrase)
        for start in range(cursor, len(prompt_ids) - len(ids) + 1):
            if prompt_ids[start : start + len(ids)] == ids:
                positions.append([p + 1 for p in range(start, start + len(ids))])
                cursor = start + len(ids)
                break
        else:
            raise ValueError(f"class phrase {phrase!r} not found in the class prompt")
    if positions and positions[-1][-1] >= tokenizer.model_max_length - 1:
        raise ValueError("class prompt longer than the text encoder's context")
    return positions
