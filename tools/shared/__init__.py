"""State the replicas of one deployment share through Redis."""
