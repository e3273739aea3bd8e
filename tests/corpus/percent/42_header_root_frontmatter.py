# ---
# title: Harbour tides
# authors:
#   - name: R. Okafor
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# date: "2024-03-01"
# ---

# %%
levels = [1.2, 2.8, 0.9]
max(levels)
