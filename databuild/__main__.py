"""`python -m databuild`: the same entry point as the `databuild` command."""

from databuild.cli import main

if __name__ == "__main__":  # not when a process started by spawning imports it as __mp_main__
    main()
