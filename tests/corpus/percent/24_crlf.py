# %%
import json

# %% [markdown]
# CRLF markdown

# %%
json.dumps({})
