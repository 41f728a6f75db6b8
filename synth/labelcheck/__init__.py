"""Label checks without ground truth: judges that name regions, cleanlab's ranking, and the per-sample flags.

The image-mask agreement scores themselves are per-sample statistics (``synth.agreement``, computed by decode).
Import from the modules (``synth.labelcheck.config``, ``synth.labelcheck.scores``): this package imports nothing,
so the recipe schema, which needs only the settings, does not load pandas into every command.
"""
