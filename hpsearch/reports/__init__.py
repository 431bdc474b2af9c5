"""What a study shows: the ranking and its notes, confirmed tables, figures, the HTML page, the
progress bar."""
