"""Waiting on tasks: poll_task's paced, deadline-bound loop."""
