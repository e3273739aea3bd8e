# %%
bom = True
