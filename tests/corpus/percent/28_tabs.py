# %%	Tabbed title
if True:
	k = 1
