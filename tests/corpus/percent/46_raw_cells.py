# %% [markdown]
# Raw cells are commented so that `python` never runs them.

# %% [raw] raw_mimetype="text/x-python"
# import os
# os.system("echo this must never run")

# %% [raw] raw_mimetype="text/restructuredtext"
# .. note:: kept for the docs build

# %% [raw]
"""
%% a raw line that would be a marker once commented
"""

# %% [raw]
#
# blank lines around
#

# %%
x = 1
