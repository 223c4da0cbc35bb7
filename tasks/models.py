"""No models: django-q2 owns the task tables."""
