# %% Load data [markdown] tags=["setup"] id="load"
# We read the input here.

# %% Compute tags=["calc"] depth=3
result = 1 + 1
