# %% [markdown]
# A Markdown cell
# written over three
# comment lines

# %% [markdown]
# A second Markdown cell


# %%
# A code cell that starts with a comment
class Counter:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1


# %% Optional title [markdown] key="value"
# A titled Markdown cell with metadata

# %% [md]
# The short cell type spelling
