"""Label checks without ground truth: judges that name regions, cleanlab's ranking, and the per-sample flags.

The image-mask agreement scores themselves are per-sample statistics (``synth.agreement``, computed by decode).
"""

from synth.labelcheck.config import JUDGES, JudgeConfig, LabelCheckSettings, RankingSettings
from synth.labelcheck.scores import CHECKS, LabelScores, active_checks, flag_reasons, oriented, score_labels

__all__ = [
    "CHECKS",
    "JUDGES",
    "JudgeConfig",
    "LabelCheckSettings",
    "LabelScores",
    "RankingSettings",
    "active_checks",
    "flag_reasons",
    "oriented",
    "score_labels",
]
