"""Checks for the notebook on heads."""
