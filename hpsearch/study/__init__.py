"""The study: its front (`Study`), the search loop, the confirm stage, pruning schedules, its
arguments."""
