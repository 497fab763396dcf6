"""Checks for the notebook on conflicts."""
