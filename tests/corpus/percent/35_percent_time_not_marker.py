# %%
# %%timeit
sum(range(5))

# %%
final = 0
