"""data step."""
