# %% Section
section = 1

# %%%% Sub section
sub = 2
