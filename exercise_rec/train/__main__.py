import sys

from exercise_rec.train.cli import main

sys.exit(main())
