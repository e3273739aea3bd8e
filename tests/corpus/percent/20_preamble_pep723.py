# /// script
# requires-python = ">=3.11"
# dependencies = ["numpy"]
# ///
import numpy as np

# %% Data
arr = np.arange(3)
