"""Prefect flows: they wire the tasks in ``tasks/`` and map command lines to typed parameters."""
