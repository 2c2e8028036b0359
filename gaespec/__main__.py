"""`python -m gaespec` runs the command-line interface."""

from gaespec.cli import main

main()
