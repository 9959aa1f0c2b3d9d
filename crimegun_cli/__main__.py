"""`python -m crimegun_cli`: the same as the `crimegun` command."""

from crimegun_cli import main

main()
