#%%
n = 1

#%% Named
m = 2
