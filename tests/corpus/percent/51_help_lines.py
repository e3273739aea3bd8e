# %%
import statistics

# %%
# ?statistics.mean

# %%
# statistics.median?
