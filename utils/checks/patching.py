"""Checks for the notebook on patching."""
