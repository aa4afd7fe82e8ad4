"""Governance: who may do what, and the tamper-evident record of what they did. Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.governance.access import AccessError, Users, may_see_camera
    from clearwatch.governance.audit import Actor, AuditLog, Verification
    from clearwatch.governance.roles import Perm, Role, can

__getattr__, __dir__ = lazy_exports(__name__, {
    "AccessError": ".access",
    "Actor": ".audit",
    "AuditLog": ".audit",
    "Perm": ".roles",
    "Role": ".roles",
    "Users": ".access",
    "Verification": ".audit",
    "can": ".roles",
    "may_see_camera": ".access",
})

__all__ = ["AccessError", "Actor", "AuditLog", "Perm", "Role", "Users", "Verification", "can", "may_see_camera"]
