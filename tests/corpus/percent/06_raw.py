# %% [raw]
# raw text kept verbatim
# second line

# %%
z = 4
