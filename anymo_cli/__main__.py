import sys

from anymo_cli.main import main

sys.exit(main())
