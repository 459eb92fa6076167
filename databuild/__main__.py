"""`python -m databuild`: the same entry point as the `databuild` command."""

from databuild.cli import main

if __name__ == "__main__":  # not in a worker process started by spawning (it imports this as __mp_main__)
    main()
