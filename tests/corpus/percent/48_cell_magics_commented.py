# %%
# %load_ext autoreload
# %autoreload 2

# %%
# %%time
total = sum(range(1000))

# %%
# %%capture captured
print("quiet")

# %%
# %%writefile settings.ini
[main]
level = 3

# %%
# !ls
files = 2
