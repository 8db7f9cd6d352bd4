"""What belongs to one member: their history, usage, preferences, open forms, and forgetting."""
