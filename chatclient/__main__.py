import sys

from chatclient.cli import main

sys.exit(main())
