# ---
# jupyter:
#   jupytext:
#     cell_markers: '"""'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
"""
Markdown cells written as
multiline strings
"""

# %%
a = 1

# %% [markdown]
'''
Single quotes work too
'''
