import os

import joules
import usermod

assert usermod.VALUE == 42 and joules.active()
print("PATHS " + "|".join(os.environ["PYTHONPATH"].split(os.pathsep)))
