"""The ``# %%`` file format (DESIGN §2): parse, serialize, edit, address cells."""
