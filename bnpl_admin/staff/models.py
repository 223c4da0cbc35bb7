"""No models: the roles are Django groups (see roles.py)."""
