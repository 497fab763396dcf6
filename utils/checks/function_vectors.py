"""Checks for the notebook on function vectors."""
