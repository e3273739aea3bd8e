# %% [markdown]
# Intro

# %% Setup tags=["init"]
import random

# %% [raw]
# raw block

# %% [markdown]
"""
Quoted note.
"""

# %%
random.seed(0)
