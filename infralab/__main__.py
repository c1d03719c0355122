import sys

from infralab.cli import main

sys.exit(main())
