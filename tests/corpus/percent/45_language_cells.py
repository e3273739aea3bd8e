# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% language="bash"
# for f in *.csv; do
#   wc -l "$f"
# done

# %% language="html"
# <table><tr><td>tide</td><td>2.8 m</td></tr></table>

# %% language="javascript"
# console.log("from the browser");

# %% Plot in R magic_args="-i levels -w 300" language="R"
# plot(levels)
#
# # an R comment
# abline(h = 2)

# %% language="latex"
# $\sum_i x_i$

# %% tags=["sql"] language="sql"
# SELECT station, max(level) FROM tides GROUP BY station

# %% magic_args="bash" language="script"
# echo "script magic"

# %%
levels = [1.2, 2.8]
