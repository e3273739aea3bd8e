# %%
template = '''
# %% this is not a cell
'''

# %%
print(template)
