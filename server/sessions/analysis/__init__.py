"""Analysis (DESIGN §4-5): names, scopes, the graph, version keys, statuses."""
