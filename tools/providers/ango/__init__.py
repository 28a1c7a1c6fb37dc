"""Ango Hub: tasks, their stage history, and project exports."""

from .client import AngoClient

__all__ = ["AngoClient"]
