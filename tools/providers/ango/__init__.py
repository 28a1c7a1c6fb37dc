"""Ango Hub: tasks, their stage history, and project exports."""

from .client import SPEC, AngoClient

__all__ = ["SPEC", "AngoClient"]
