# %% [md]
# Short form of the markdown type.

# %%
y = 3
