import sys

from kgctl_py.cli import main

sys.exit(main())
