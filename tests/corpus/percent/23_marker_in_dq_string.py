# %%
doc = """
text
# %% [markdown]
still text
"""

# %%
len(doc)
