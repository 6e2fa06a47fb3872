import sys

from replay.cli import main

if __name__ == "__main__":  # a worker process may import this module: run nothing then
    sys.exit(main())
