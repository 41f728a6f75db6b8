"""Versions on the Hugging Face Hub: publish a build, keep the registry in git, review recipe changes."""
