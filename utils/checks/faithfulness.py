"""Checks for the notebook on faithfulness."""
