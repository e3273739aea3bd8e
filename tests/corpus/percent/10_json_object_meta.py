# %% Plot {"tags": ["figure"], "id": "plot"}
plot = None
