# %%
# %time value = 1 + \
#     2
value
