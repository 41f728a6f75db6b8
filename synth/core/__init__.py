"""The kernel: names every layer shares and that import nothing of the project (see tests/test_layering.py)."""
