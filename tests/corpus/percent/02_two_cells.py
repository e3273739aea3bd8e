# %%
import math

# %%
math.pi
