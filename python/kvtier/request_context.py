"""RequestContext: what the engine knows of a request beyond its tokens
(kvtier/request_context.h), passed to Store.load and Store.save. With
eviction="session" the store files blocks under their session and sends a
closed session's own blocks to the cold end; other policies ignore it."""
import ctypes
from dataclasses import dataclass

from . import _capi

SESSION_STATES = {"unknown": 0, "open": 1, "closed": 2}


@dataclass(frozen=True)
class RequestContext:
    """session_id: the conversation, agent or sub-agent (0 = unknown);
    session: "unknown", "open" (more requests may follow) or "closed" (its
    last request); priority: > 0 keeps the blocks as if reused (0..255);
    ttl_s: seconds until the session's next request is expected; under the
    session policy its blocks wait for it (0 = unknown). Bad values raise
    ValueError naming the field."""
    session_id: int = 0
    session: str = "unknown"
    priority: int = 0
    ttl_s: float = 0.0

    def _c(self):
        if self.session not in SESSION_STATES:
            raise ValueError(f"RequestContext.session: {self.session!r}; use one of "
                             + ", ".join(SESSION_STATES))
        if not 0 <= self.session_id < 1 << 64:
            raise ValueError(f"RequestContext.session_id: {self.session_id} out of range")
        if not 0 <= self.priority <= 255:
            raise ValueError(f"RequestContext.priority: {self.priority} not in 0..255")
        c = _capi.RequestContext()
        _capi.lib.kvtier_request_context_init(ctypes.byref(c))
        c.session_id = self.session_id
        c.session_state = SESSION_STATES[self.session]
        c.priority = self.priority
        c.ttl_s = self.ttl_s
        return c
