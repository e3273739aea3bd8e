# %% [markdown]
"""
A markdown cell written as a string.

It has two paragraphs.
"""

# %%
w = 1
