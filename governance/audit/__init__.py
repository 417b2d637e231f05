"""The tamper-evident audit trail: services call `record_event` inside their transaction."""

from governance.audit.chain import GENESIS_HASH, chain_name, record_event
from governance.audit.snapshot import snapshot

__all__ = ["GENESIS_HASH", "chain_name", "record_event", "snapshot"]
