"""One module per CLI sub-command; see workprint.cli."""
