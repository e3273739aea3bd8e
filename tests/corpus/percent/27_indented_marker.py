# %%
for i in range(2):
    pass
    # %% indented marker
j = 1
