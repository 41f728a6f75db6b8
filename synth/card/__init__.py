"""The Hub-ready dataset: what ``build/NAME/`` holds is exactly what gets uploaded."""
