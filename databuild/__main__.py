"""`python -m databuild`: the same entry point as the `databuild` command."""

from databuild.cli import main

main()
