# %%
# %%time
total = sum(range(10))

# %%
# %%capture out
print('hidden')
