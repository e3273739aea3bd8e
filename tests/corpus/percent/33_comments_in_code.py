# %%
# plain comment
value = 3  # trailing comment
# another comment
