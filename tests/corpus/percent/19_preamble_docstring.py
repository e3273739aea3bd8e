"""Module docstring of a notebook."""
import os

# %%
os.getcwd()
