"""Small helpers shared by every Lambda runtime (spoke, hub, enrollment). No AWS calls at import."""
