"""`python -m tunesmith.cli ...`: the same as the `tunesmith` command."""

from . import main

main()
