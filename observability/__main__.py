import sys

from observability.generate import main

sys.exit(main())
