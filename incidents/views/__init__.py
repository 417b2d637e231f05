"""htmx pages for incidents: the war room, the post-mortem, action items, metrics, alert tokens."""
