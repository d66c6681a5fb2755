"""botpool_cli."""
