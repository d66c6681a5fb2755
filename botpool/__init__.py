"""botpool."""
