# %%
# %d items were counted
# 100% sure
items = 5
