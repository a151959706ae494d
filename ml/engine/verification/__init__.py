"""Statement-level verification of generated text, standard library only (the web process re-checks a
piece after every edit): every content word backed by the evidence or generic (statements), polar
contradictions (statements), text defects (text) and a brand voice's "never" rules (voice).
`ml.engine.grounding.check_copy` combines them with its fact extractors for marketing copy."""

from ml.engine.verification.statements import Evidence, Finding, contradictions, split_sentences, unverified
from ml.engine.verification.text import placeholders, repetitions, trim_unfinished, unfinished
from ml.engine.verification.voice import voice_rules, voice_violations

# The version of the copy checker's rules (this package and ml.engine.grounding.check_copy). The studio stores it
# with every grounding report and rechecks pieces whose report has another one, so bump it whenever a rule change
# can alter what a report finds (marketing.review.recheck.content_recheck); a pure refactor keeps it.
VERIFIER_VERSION = "2026-12-06"  # + "world's most/finest/greatest" ranking claims

__all__ = [
    "VERIFIER_VERSION",
    "Evidence",
    "Finding",
    "contradictions",
    "placeholders",
    "repetitions",
    "split_sentences",
    "trim_unfinished",
    "unfinished",
    "unverified",
    "voice_rules",
    "voice_violations",
]
