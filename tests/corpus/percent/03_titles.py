# %% Load the table
rows = [1, 2, 3]

# %% Sum them up
total = sum(rows)
