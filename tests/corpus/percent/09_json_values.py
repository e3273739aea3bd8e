# %% config={"lr": 0.1, "layers": [3, 4]} flag=true count=7
settings = {}
