# %%
# %matplotlib inline
import matplotlib

# %%
# !pip install numpy
# %load_ext autoreload
# %autoreload 2
