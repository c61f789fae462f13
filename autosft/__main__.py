"""``python -m autosft``: the command line, as worker processes start it."""

from autosft.cli import main

main()
