"""Governance: who may do what, and the tamper-evident record of what they did."""

from clearwatch.governance.access import AccessError, Perm, Role, Users, can, may_see_camera
from clearwatch.governance.audit import Actor, AuditLog, Verification

__all__ = ["AccessError", "Actor", "AuditLog", "Perm", "Role", "Users", "Verification", "can",
           "may_see_camera"]
