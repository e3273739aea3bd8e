# %%
# files = !ls
# t = %timeit -o sum(range(3))
