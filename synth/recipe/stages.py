"""The pipeline's stages, written once: which recipe fields each reads and which code it runs.

dvc.yaml declares the same lists (``params`` and the code entries of ``deps``): tests/test_dvc_graph.py keeps the
two equal and checks that a stage's code imports nothing outside its declared code. The shard keys of synthesize
and decode are built from the same field lists (``key_fields``), so a field a stage reads is in its DVC params
and in its shard key, or in neither.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    fields: tuple[str, ...]  # recipe fields the stage reads: its DVC params
    code: tuple[str, ...]  # folders and files of the code it runs: the code part of its DVC deps
    # Fields that decide which seeds a shard holds rather than what its bytes are: the key adds the seeds instead.
    sharding: tuple[str, ...] = ()

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The fields a shard key hashes (besides the shard's own seeds or source)."""
        return tuple(f for f in self.fields if f not in self.sharding)


EVALUATE = Stage(
    ("evaluate", "taxonomy"),
    (
        "synth/evaluate",
        "synth/segment",
        "synth/adapt/csa.py",
        "synth/adapt/config.py",
        "synth/mix/classmix.py",
        "synth/stages/evaluate.py",
        "synth/stages/real_bound.py",
    ),
)

# The judge-checked labels every decoder's settings may hold (decode.judge_labels: synth/labelcheck/gate.py runs in
# the decode stage; the settings and the judges they name are read wherever decoder settings are).
JUDGE_CODE = (
    "synth/labelcheck/config.py",
    "synth/labelcheck/judge.py",
    "synth/labelcheck/clip.py",
    "synth/labelcheck/fashion.py",
)

# The validate stages' label checks: judges, cleanlab's ranking and the tiny UNet it cross-fits (synth/segment).
LABEL_CHECK_CODE = (
    "synth/labelcheck",
    "synth/segment",
    "synth/stages/label_checks.py",
)

_TARGET = Stage(
    ("target", "taxonomy", "prompts", "generator", "image_size", "seeds"),
    ("synth/adapt/target.py", "synth/generate", "synth/stages/target.py"),
)

STAGES: dict[str, Stage] = {
    "synthesize": Stage(
        ("generator", "taxonomy", "prompts", "seeds", "image_size", "samples_per_shard", "image_format"),
        ("synth/generate", "synth/stages/synthesize.py"),
        sharding=("seeds", "samples_per_shard"),
    ),
    "train-decoder": Stage(
        ("decode", "taxonomy"),
        (
            "synth/decode/datasetgan",
            "synth/decode/base.py",
            "synth/decode/components.py",
            "synth/decode/image_evidence.py",
            "synth/generate",
            *JUDGE_CODE,
            "synth/stages/train_decoder.py",
        ),
    ),
    "decode": Stage(
        ("decode", "taxonomy"),
        (
            "synth/decode",
            "synth/generate",
            "synth/agreement.py",
            *JUDGE_CODE,
            "synth/labelcheck/gate.py",
            "synth/stages/decode.py",
        ),
    ),
    # validate runs the recipe's judge (its weights under models/) and cleanlab's ranking (synth/labelcheck).
    "validate": Stage(
        ("validation", "taxonomy", "seeds"),
        ("validation", "synth/stages/validate.py", "synth/cli/validate.py", *LABEL_CHECK_CODE),
    ),
    # The variants (mixed, stylized) with the base's suites. Which variants, and mix.count, come from the optional
    # mix:/stylize: sections, which a stage over every recipe cannot track (DVC needs the key present): they
    # reach it through the variant shards (its data/NAME dep), whose keys hash them.
    "validate-variants": Stage(
        ("validation", "taxonomy", "seeds"),
        (
            "validation",
            "synth/stages/validate.py",
            "synth/stages/validate_variants.py",
            "synth/stages/variants.py",
            "synth/cli/validate_variants.py",
            *LABEL_CHECK_CODE,
        ),
    ),
    # build also reads the thresholds: the card states what the data was validated against.
    "build": Stage(
        ("name", "version", "description", "license", "hub_repo", "splits", "taxonomy", "validation"),
        (
            "synth/card",
            "synth/generate/base.py",  # the generator's capabilities: whether the build has an instances column
            "synth/generate/prompts.py",
            "synth/report/contact_sheet.py",  # the card's preview.png
            "validation/outcome.py",  # the verdict the card states, by the same rules as the report and Data Docs
            "synth/stages/build.py",
            "synth/stages/build_variants.py",
            "synth/stages/variants.py",
        ),
    ),
    "preview": Stage(("taxonomy",), ("synth/report/contact_sheet.py", "synth/stages/preview.py")),
    # report shows lineage, class statistics against the weights and thresholds, and the decoder's outputs.
    "report": Stage(
        ("name", "version", "description", "hub_repo", "generator", "taxonomy", "decode", "validation"),
        ("synth/report", "synth/card/lineage.py", "synth/stages/report.py", "validation/outcome.py"),
    ),
    "mix": Stage(
        ("mix", "taxonomy", "image_size", "splits"),
        (
            "synth/mix",
            "synth/stages/mix.py",
            "synth/stages/trained_folder.py",
        ),
    ),
    "target": _TARGET,
    "target-live": _TARGET,  # the same command for targets DVC cannot see (folders, Hub branches): runs every time
    "stylize": Stage(
        ("stylize",),
        (
            "synth/adapt/stylize.py",
            "synth/adapt/translate.py",
            "synth/adapt/domain.py",
            "synth/adapt/config.py",
            "synth/stages/stylize.py",
            "synth/stages/trained_folder.py",
        ),
    ),
    # Every recipe: the usefulness score where `evaluate:` is a section, {} where it is null (the key is in every
    # recipe file, FILE_KEYS in schema.py, so DVC can track it), so the report and card depend on its file.
    "evaluate": EVALUATE,
    # Not per recipe: trains models/fashion-sd from params.yaml `train_generator:` (frozen in dvc.yaml).
    # measure.py (attention probes through a recipe) is not training code: not listed.
    "train-generator": Stage(
        (),
        tuple(
            f"synth/train_generator/{m}.py"
            for m in ("data", "grounding", "loss_weighting", "models", "tokenizer", "train")
        )
        + ("synth/realdata", "synth/stages/train_generator.py"),
    ),
}

STAGE_FIELDS: dict[str, tuple[str, ...]] = {name: stage.fields for name, stage in STAGES.items()}
