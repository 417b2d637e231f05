"""What a verification found wrong, said the same way by every check of the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

CHECKPOINTS = "checkpoints"  # the `chain` of a break in the checkpoints' own chain


@dataclass(frozen=True)
class Break:
    chain: str
    seq: int
    reason: str
    checkpoint: int | None = None  # the first checkpoint that contradicts the record, if any

    def __str__(self) -> str:
        if self.chain == CHECKPOINTS:
            return f"checkpoint {self.checkpoint}: {self.reason}"
        return f"chain {self.chain} is broken at seq {self.seq}: {self.reason}"

    @property
    def summary(self) -> str:
        """One line for an exit message: where to look first."""
        if self.chain == CHECKPOINTS:
            return f"audit checkpoint {self.checkpoint} fails: {self.reason}"
        at = f" (checkpoint {self.checkpoint})" if self.checkpoint is not None else ""
        return f"audit chain broken: chain={self.chain} seq={self.seq}{at}"
