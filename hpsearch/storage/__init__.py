"""The study folder on disk: its files and names, the append-only journal, atomic writes."""
