# %% [markdown]
# # A heading
#
# Some *emphasis* and a list:
# - one
# - two

# %%
x = 2
