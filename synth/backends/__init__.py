"""Where synthesis runs. Execution settings only: a backend never changes a byte of what is made."""

BACKENDS = ("local", "ray")
