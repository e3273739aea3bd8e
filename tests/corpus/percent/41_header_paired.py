# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.16.4
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Bike counts
#
# Daily counts from two counters, paired with an `.ipynb`.

# %%
import statistics

counts = [412, 388, 501]

# %% Summary
statistics.mean(counts)
