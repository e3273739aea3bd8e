# %% [markdown]
'''
Single-quoted markdown.
'''

# %%
v = 2
