# %% [markdown]
#Tight comment
# Normal line

# %%
r = 1
