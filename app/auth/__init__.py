"""Staff and resident identities, roles and the per-endpoint policy (Art. 16: least privilege)."""
from app.auth.policy import PUBLIC, allow, current_actor

__all__ = ["PUBLIC", "allow", "current_actor"]
