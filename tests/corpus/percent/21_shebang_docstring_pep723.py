#!/usr/bin/env -S uv run
# /// script
# dependencies = []
# ///
"""Everything before the first marker."""

# %%
done = True
