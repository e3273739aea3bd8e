"""Exporting a notebook with its cached outputs: ``.ipynb``, HTML, Markdown, a Python script.

``writer.export_notebook`` is what the CLI and the language server call;
``report`` adds what Sessions knows (statuses, when and where outputs were
produced) to the nbformat notebook that ``convert`` renders with nbconvert
and the templates in ``templates/``; ``freshness`` is ``--only-fresh``.
"""
