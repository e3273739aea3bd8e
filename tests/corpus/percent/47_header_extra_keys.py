# ---
# jupyter:
#   celltoolbar: Tags
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   lab_settings:
#     theme: dark
#   toc:
#     base_numbering: 1
#     nav_menu: {}
#   vscode:
#     interpreter:
#       hash: 3f9a1c
# ---

# %% tags=["parameters"]
rows = 10

# %% slideshow={"slide_type": "slide"}
print(rows)
