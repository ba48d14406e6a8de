"""Domain-free building blocks, one topic per module."""
