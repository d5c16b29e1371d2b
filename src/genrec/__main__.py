"""`python -m genrec` runs the command-line interface."""

from genrec.cli import main

if __name__ == "__main__":
    main()
