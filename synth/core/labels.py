"""Reserved mask values, shared by every stage (kept apart from the recipe schema to avoid import cycles)."""

BACKGROUND_ID = 0
IGNORE_ID = 255
