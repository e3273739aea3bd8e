# %% tags=["parameters"]
alpha = 0.5

# %% id="train" tags=["slow", "gpu"]
model = alpha * 2
