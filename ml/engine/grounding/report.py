"""What the copy check reports: the kinds of finding, one unsupported ``Claim`` (with its span in a field) and
the ``GroundingReport`` of a piece, which the studio stores as JSON (``to_dict``/``from_dict``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

# Kinds of the fact extractors (.extraction), then of the statement verifier (ml.engine.verification).
FACT_KINDS = ("price", "number", "percentage", "measurement", "material", "claim")
STATEMENT_KINDS = ("term", "colour", "product_type", "audience", "name", "retailer", "contradiction")
CLAIM_KINDS = FACT_KINDS + STATEMENT_KINDS


@dataclass(frozen=True)
class Claim:
    """An unsupported fact: ``text`` is ``fields[field][start:end]``."""

    text: str
    kind: str
    field: str
    start: int
    end: int
    reason: str


@dataclass
class GroundingReport:
    unsupported: list[Claim] = field(default_factory=list)
    channel_violations: list[str] = field(default_factory=list)
    degenerate: list[str] = field(default_factory=list)
    banned: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.unsupported or self.channel_violations or self.degenerate or self.banned)

    @property
    def approvable(self) -> bool:
        """Only a piece with no finding at all: a placeholder, a cut-off sentence or a repeated word is
        something a shopper would see, as much as an invented fact. An edit re-runs the check."""
        return self.passed

    def to_dict(self) -> dict:
        """JSON-safe; ``passed`` and ``approvable`` are included for filtering and ignored by from_dict."""
        return {
            "unsupported": [asdict(c) for c in self.unsupported],
            "channel_violations": list(self.channel_violations),
            "degenerate": list(self.degenerate),
            "banned": list(self.banned),
            "passed": self.passed,
            "approvable": self.approvable,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> GroundingReport:
        return cls(
            unsupported=[
                Claim(**{k: c[k] for k in ("text", "kind", "field", "start", "end", "reason")})
                for c in data.get("unsupported", ())
            ],
            channel_violations=list(data.get("channel_violations", ())),
            degenerate=list(data.get("degenerate", ())),
            banned=list(data.get("banned", ())),
        )
