"""The tamper-evident audit trail: services call `record_event` inside their transaction."""

from governance.audit.chain import GENESIS_HASH, chain_name, new_event, record_event
from governance.audit.snapshot import snapshot

__all__ = ["GENESIS_HASH", "chain_name", "new_event", "record_event", "snapshot"]
