# ---
# Weekly report, generated every Monday.
#
# Owner: data team
# ---

# %%
print("report")
