# -*- coding: utf-8 -*-
import re

# %%
re.escape('x')
