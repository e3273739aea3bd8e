# %%
def broken(:
    return

# %%
ok = 1
