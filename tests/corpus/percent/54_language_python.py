# %% language="python"
x = 1 + 1

# %% language="bash"
# echo $HOME
